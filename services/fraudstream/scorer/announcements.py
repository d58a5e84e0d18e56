"""The scorer's old name for `fraudstream.model.announcements.AnnouncementListener`, kept
until `scorer/service.py` (lane plumb-kafka) imports the model module directly."""

from __future__ import annotations

from fraudstream.model.announcements import AnnouncementListener

__all__ = ["AnnouncementListener"]
