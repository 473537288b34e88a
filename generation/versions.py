"""What kept pages show of generation (config.pagecache): the reader's jobs,
projects and uploaded photos, the avatar styles (a style's name shows on portrait
cards), and the showcase items (the landing page's examples: a pick, an
edit or an owner's withdrawal makes a new version). :data:`STUDIO` and :data:`CATALOGUE` are the sets the studio's pages
and job cards name."""

from __future__ import annotations

from config.pagecache import Tracked

from .models import Job, Project, ShowcaseItem, StylePreset, Upload

TRACKED = [
    Tracked("jobs", Job, owner="user"),
    Tracked("uploads", Upload, owner="user"),
    Tracked("projects", Project, owner="user"),
    Tracked("style_presets", StylePreset),
    Tracked("showcase", ShowcaseItem),
]

#: What a job card shows besides its job: model names and prices, style names.
CATALOGUE = ("offers", "style_presets")
#: What every studio page shows: the balance, the reader's jobs and projects
#: (the Generate forms' project select and budget warnings), the catalogue
#: and, while the feed is empty, examples from the showcase.
STUDIO = ("wallet", "jobs", "projects", *CATALOGUE, "showcase")
#: The Avatar page also lists the reader's photos.
AVATAR = (*STUDIO, "uploads")
#: The landing page: the studio's header for a signed-in reader, and the showcase.
LANDING = STUDIO
#: The Image, Video and Audio pages: the Video page offers the reader's uploaded images as frames.
STUDIO_PAGE = (*STUDIO, "uploads")
