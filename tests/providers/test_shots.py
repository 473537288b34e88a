"""Multi-shot prompts (providers.shots): one shot per line, the clip's seconds
shared out, the model's limits enforced with a message the creator can act on."""

from __future__ import annotations

import pytest

from providers.shots import ShotsError, shots_on, split_shots

SPEC = {
    "param": "multi_shot",
    "flag": "multi_shots",
    "field": "multi_prompt",
    "max": 5,
    "max_chars": 500,
    "min_seconds": 1,
    "max_seconds": 12,
}


def test_each_line_is_a_shot_and_the_seconds_are_shared_out_first_shots_first():
    shots = split_shots(SPEC, "A fox wakes up.\n\n  A fox   runs.\nThe fox sleeps.", 10)

    assert shots == [
        {"prompt": "A fox wakes up.", "duration": 4},
        {"prompt": "A fox runs.", "duration": 3},
        {"prompt": "The fox sleeps.", "duration": 3},
    ]
    assert sum(s["duration"] for s in shots) == 10


@pytest.mark.parametrize(
    ("prompt", "seconds", "words"),
    [
        ("only one shot", 10, "at least two"),
        ("\n".join(f"shot {n}" for n in range(6)), 15, "At most 5 shots"),
        ("a\n" + "b" * 501, 10, "Shot 2 is too long"),
        ("a\nb\nc\nd", 3, "do not fit a 3-second clip"),
        ("a\nb", 15, None),
    ],
)
def test_limits(prompt, seconds, words):
    if words is None:
        assert [s["duration"] for s in split_shots(SPEC, prompt, seconds)] == [8, 7]
        return
    with pytest.raises(ShotsError, match=words):
        split_shots(SPEC, prompt, seconds)


def test_a_shot_above_the_longest_allowed_is_refused():
    with pytest.raises(ShotsError, match="each shot takes 1 to 6 s"):
        split_shots({**SPEC, "max_seconds": 6}, "a\nb", 15)


def test_shots_are_on_only_when_the_creator_turns_them_on():
    assert shots_on(SPEC, {"multi_shot": "on"})
    assert not shots_on(SPEC, {"multi_shot": "off"})
    assert not shots_on(None, {"multi_shot": "on"})
