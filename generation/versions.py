"""What kept pages show of generation (config.pagecache): the reader's jobs,
projects and uploaded photos, and the avatar styles (a style's name shows on portrait
cards). :data:`STUDIO` and :data:`CATALOGUE` are the sets the studio's pages
and job cards name."""

from __future__ import annotations

from config.pagecache import Tracked

from .models import Job, Project, StylePreset, Upload

TRACKED = [
    Tracked("jobs", Job, owner="user"),
    Tracked("uploads", Upload, owner="user"),
    Tracked("projects", Project, owner="user"),
    Tracked("style_presets", StylePreset),
]

#: What a job card shows besides its job: model names and prices, style names.
CATALOGUE = ("offers", "style_presets")
#: What every studio page shows: the balance, the reader's jobs and projects
#: (the Generate forms' project select and budget warnings) and the catalogue.
STUDIO = ("wallet", "jobs", "projects", *CATALOGUE)
#: The Avatar page also lists the reader's photos.
AVATAR = (*STUDIO, "uploads")
