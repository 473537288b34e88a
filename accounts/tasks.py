"""Celery tasks of accounts: each takes plain values and calls one function."""

from __future__ import annotations

from celery import shared_task

#: How many times a stored file of a deleted account (or upload) is tried.
STORAGE_DELETE_ATTEMPTS = 5


@shared_task
def storage_files_delete_task(names: list[str], attempt: int) -> None:
    """Try again to delete stored files that failed (accounts.deletion.storage_files_delete)."""
    from .deletion import storage_files_delete

    storage_files_delete(names=names, attempt=attempt)
