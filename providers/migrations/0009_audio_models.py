"""Seed audio and speaking models (issue 18): ElevenLabs voice-over
(multilingual v2), dialogue (v3) and sound effects (v2), Suno V5 music; the
talking portraits Kling AI Avatar Standard and Pro, Infinitalk and OmniHuman
1.5, and Volcengine's lip-sync of a video; and a demo stand-in for each kind.

Fields, value spellings and limits as kie.ai's model pages write them
(docs/kie.md §2.1, §2.7, §2.9: voices are ids, never names; multilingual v2
takes no ``language_code``; dialogue v3's stability is 0, 0.5 or 1; sound
effects at most 450 characters and 0.5–22 s; OmniHuman's resolution is "720"
or "1080"). Costs in USD from kie.ai's price list of 2026-06-30: speech per
1,000 characters, music per request (two tracks), sound effects and the
speaking models per second of sound. Prices in credits follow from them.
"""

from django.db import migrations

#: The 16 voices Mirsam offers (providers/voices.py has their names), default first.
VOICES = [
    "EkK5I93UQWFDigLMpZcX", "Z3R5wn05IrDiVCyEkUrK", "NNl6r8mD7vthiJatiJt1", "5l5f8iK3YPeGga21rQIX",
    "BZgkqPqms7Kj9ulSkVzn", "hpp4J3VqNfWAUOO0d1Us", "nPczCjzI2devNBz1zQrb", "qDuRKMlYmrm8trt5QyBn",
    "Sm1seazb4gs7RSlUVw7c", "TX3LPaxmHKxFdv7VOQHJ", "DYkrAHD8iwork3YSUBbs", "6aDn1KB0hjpdcocrUkmq",
    "AeRdCCKzvd23BpJoofzx", "LruHrtVF6PSyGItzMNHS", "1wGbFxmAM3Fgw63G1zZJ", "6F5Zhi321D3Oq7v1oNT4",
]
SPEED = {"choices": ["0.8", "0.9", "1.0", "1.1", "1.2"], "default": "1.0", "as": "float"}

SPEECH = {
    "audio": "speech", "prompt_field": "text", "prompt_max_length": 5000, "max_outputs": 1,
    "params": {"voice": {"choices": VOICES, "default": VOICES[0]}, "speed": SPEED,
               "stability": {"choices": ["0.3", "0.5", "0.8"], "default": "0.5", "as": "float"}},
    "cost": {"usd": "0.06", "per_chars": 1000},
}
DIALOGUE = {
    "audio": "dialogue", "prompt_field": "", "prompt_max_length": 5000, "max_outputs": 1,
    "dialogue": {"field": "dialogue", "voices": ["voice", "voice_2"]},
    "params": {"voice": {"choices": VOICES, "default": VOICES[0], "send": False},
               "voice_2": {"choices": VOICES, "default": VOICES[1], "send": False},
               "stability": {"choices": ["0", "0.5", "1"], "default": "0.5", "as": "float"}},
    "cost": {"usd": "0.07", "per_chars": 1000},
}
#: $0.0012 a second (§2.9); "auto" lets the model choose up to 22 s, priced at 22 s.
SFX_SECONDS = ["auto", "3", "5", "10", "15", "22"]
SOUND_EFFECT = {
    "audio": "sound_effect", "prompt_field": "text", "prompt_max_length": 450, "max_outputs": 1,
    "params": {"duration": {"choices": SFX_SECONDS, "default": "auto", "wire": "duration_seconds",
                            "as": "float", "none": "auto"},
               "loop": {"choices": ["off", "on"], "default": "off", "as": "bool"}},
    "constants": {"output_format": "mp3_44100_128"},
    "cost": {"usd": "0.0264", "by": {"duration": {"3": "0.0036", "5": "0.006", "10": "0.012", "15": "0.018",
                                                  "22": "0.0264"}}},
}
MUSIC = {
    "audio": "music", "prompt_max_length": 5000, "max_outputs": 1,
    "params": {"instrumental": {"choices": ["off", "on"], "default": "off"},
               "vocal_gender": {"choices": ["any", "m", "f"], "default": "any"}},
    "texts": {"title": {"max": 80}, "style": {"max": 1000}},
    "custom": {"plain_prompt_max": 500},
    "cost": {"usd": "0.06"},
}


def portrait(fields, speech_max, cost, params=None, **extra):
    """A talking portrait: a picture (role "portrait") and a speech (role "speech"), priced per second of speech."""
    return {
        "speaks": "portrait", "prompt_optional": True, "max_outputs": 1, "speech_max_seconds": speech_max,
        "inputs": {"min": 2, "max": 2, "roles": ["portrait", "speech"], "fields": fields},
        "params": params or {}, "cost": {**cost, "per_second": "duration"}, **extra,
    }


KIE_PORTRAIT_FIELDS = {"portrait": "image_url", "speech": "audio_url"}
LIP_SYNC = {
    "speaks": "video", "prompt_field": "", "prompt_optional": True, "max_outputs": 1, "speech_max_seconds": 120,
    "inputs": {"min": 2, "max": 2, "roles": ["video", "speech"], "fields": {"video": "video_url", "speech": "audio_url"}},
    "params": {"mode": {"choices": ["lite", "basic"], "default": "lite"}},
    "cost": {"usd": "0.04", "per_second": "duration"},
}


def row(slug, service, adapter, provider_model, name_en, name_ar, description_en, description_ar, options, order):
    return {
        "slug": slug, "service": service, "adapter": adapter, "provider_model": provider_model,
        "name_en": name_en, "name_ar": name_ar, "description_en": description_en,
        "description_ar": description_ar, "options": options, "sort_order": order,
    }


OFFERS = [
    row("elevenlabs-v2", "audio", "kie", "elevenlabs/text-to-speech-multilingual-v2",
        "ElevenLabs Multilingual v2", "ElevenLabs متعدد اللغات v2",
        "Natural voice-over in Arabic, English and 27 more languages; priced per 1,000 characters.",
        "تعليق صوتي طبيعي بالعربية والإنجليزية و27 لغة أخرى؛ يُسعَّر لكل 1000 حرف.",
        SPEECH, 21),
    row("elevenlabs-dialogue-v3", "audio", "kie", "elevenlabs/text-to-dialogue-v3",
        "ElevenLabs Dialogue v3", "ElevenLabs حوار v3",
        "A conversation between two voices, one line per turn, in Arabic or English.",
        "حوار بين صوتين، سطر لكل دور، بالعربية أو الإنجليزية.",
        DIALOGUE, 22),
    row("suno-v5", "audio", "kie", "suno/V5", "Suno V5", "Suno V5",
        "Songs with vocals or instrumentals up to 8 minutes; each request makes two tracks.",
        "أغانٍ بغناء أو موسيقى فقط حتى 8 دقائق؛ كل طلب يصنع مقطعين.",
        {**MUSIC, "needs_callback": True}, 23),  # Suno's API requires a callBackUrl (§2.7)
    row("elevenlabs-sfx-v2", "audio", "kie", "elevenlabs/sound-effect-v2",
        "ElevenLabs Sound Effects v2", "ElevenLabs مؤثرات صوتية v2",
        "Sound effects from a description, up to 22 seconds, optionally looping.",
        "مؤثرات صوتية من وصف، حتى 22 ثانية، ويمكن أن تتكرر بلا انقطاع.",
        SOUND_EFFECT, 24),
    row("kling-avatar-standard", "video", "kie", "kling/ai-avatar-standard",
        "Kling AI Avatar", "Kling AI Avatar",
        "A portrait that speaks your audio, lips in sync, 720p; up to 15 seconds.",
        "صورة شخصية تنطق بصوتك وشفتاها متزامنتان، بدقة 720p؛ حتى 15 ثانية.",
        portrait(KIE_PORTRAIT_FIELDS, 15, {"usd": "0.04"}), 41),
    row("kling-avatar-pro", "video", "kie", "kling/ai-avatar-pro",
        "Kling AI Avatar Pro", "Kling AI Avatar Pro",
        "The talking portrait in 1080p, with finer expressions; up to 15 seconds.",
        "الصورة الناطقة بدقة 1080p وتعابير أدق؛ حتى 15 ثانية.",
        portrait(KIE_PORTRAIT_FIELDS, 15, {"usd": "0.08"}), 42),
    row("infinitalk", "video", "kie", "infinitalk/from-audio", "InfiniteTalk", "InfiniteTalk",
        "A low-cost talking portrait at 480p or 720p; up to 15 seconds.",
        "صورة ناطقة منخفضة التكلفة بدقة 480p أو 720p؛ حتى 15 ثانية.",
        portrait(KIE_PORTRAIT_FIELDS, 15, {"usd": "0.015", "by": {"resolution": {"720p": "0.06"}}},
                 params={"resolution": {"choices": ["480p", "720p"], "default": "480p"}}), 43),
    row("omnihuman-1-5", "video", "kie", "omnihuman-1-5", "OmniHuman 1.5", "OmniHuman 1.5",
        "Full-body talking characters (people, pets, cartoons) up to 1080p; speech under a minute.",
        "شخصيات ناطقة بالجسم كله (أشخاص وحيوانات ورسوم) حتى 1080p؛ كلام أقل من دقيقة.",
        portrait(KIE_PORTRAIT_FIELDS, 59, {"usd": "0.135"},
                 params={"resolution": {"choices": ["720", "1080"], "default": "1080", "wire": "output_resolution"}}),
        44),
    row("lip-sync", "video", "kie", "volcengine/video-to-video-lip-sync", "Lip-sync", "مزامنة الشفاه",
        "Moves the lips of a person in your video to new speech; the video follows the speech's length.",
        "يحرّك شفتي الشخص في الفيديو على كلام جديد؛ ويتبع الفيديو طول الكلام.",
        LIP_SYNC, 45),
    # Offline stand-ins, each with the cost of the model it stands in for.
    row("demo-speech", "audio", "demo", "demo/speech", "Demo voice", "صوت تجريبي",
        "Offline demo model: a voice-like sound as long as your text would take to say.",
        "نموذج تجريبي دون اتصال: صوت يشبه الكلام بطول نطق نصك.",
        SPEECH, 1),
    row("demo-dialogue", "audio", "demo", "demo/dialogue", "Demo dialogue", "حوار تجريبي",
        "Offline demo model: each line in turn in one of two voice-like sounds.",
        "نموذج تجريبي دون اتصال: كل سطر بدوره بأحد صوتين يشبهان الكلام.",
        DIALOGUE, 2),
    row("demo-music", "audio", "demo", "demo/music", "Demo composer", "ملحّن تجريبي",
        "Offline demo model: two short melodies from your description.",
        "نموذج تجريبي دون اتصال: لحنان قصيران من وصفك.",
        MUSIC, 3),
    row("demo-sound-effect", "audio", "demo", "demo/sound-effect", "Demo sounds", "مؤثرات تجريبية",
        "Offline demo model: a sound of the length you pick, made from your description.",
        "نموذج تجريبي دون اتصال: صوت بالطول الذي تختاره، مصنوع من وصفك.",
        SOUND_EFFECT, 4),
    row("demo-talking-portrait", "video", "demo", "demo/talking-portrait", "Demo talking portrait", "صورة ناطقة تجريبية",
        "Offline demo model: your picture moving with the loudness of the speech, with the speech as sound.",
        "نموذج تجريبي دون اتصال: صورتك تتحرك مع شدة الكلام، والكلام صوتها.",
        portrait(KIE_PORTRAIT_FIELDS, 60, {"usd": "0.04"}), 31),
    row("demo-lip-sync", "video", "demo", "demo/lip-sync", "Demo lip-sync", "مزامنة شفاه تجريبية",
        "Offline demo model: your video with a mouth band moving to the speech, and the speech as sound.",
        "نموذج تجريبي دون اتصال: الفيديو مع شريط فم يتحرك مع الكلام، والكلام صوته.",
        {**LIP_SYNC, "speech_max_seconds": 60}, 32),
]


def forward(apps, schema_editor):
    Offer = apps.get_model("providers", "Offer")
    for data in OFFERS:
        values = dict(data)
        values["name"] = values["name_en"]
        values["description"] = values["description_en"]
        Offer.objects.update_or_create(slug=values.pop("slug"), defaults=values)


def backward(apps, schema_editor):
    apps.get_model("providers", "Offer").objects.filter(slug__in=[o["slug"] for o in OFFERS]).delete()


class Migration(migrations.Migration):
    dependencies = [("providers", "0008_new_models")]
    operations = [migrations.RunPython(forward, backward)]
