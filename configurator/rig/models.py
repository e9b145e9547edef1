"""Measurements users submit from the rig and build pages. They wait for an admin; once
approved they are shown as evidence beside estimates for the same hardware and written
out (``manage.py export_measurements``) as calibration rows in the v2 schema."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import models
from django.utils import timezone


class UserMeasurement(models.Model):
    """One pasted benchmark run: the rig it ran on, the model and format, the parsed
    rows (each with the estimate it was compared with) and the text as pasted."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    model_slug = models.CharField(max_length=120)
    model_name = models.CharField(max_length=160)
    quant = models.CharField(max_length=40)
    tool = models.CharField(max_length=40)
    hardware = models.JSONField(help_text="The rig: kind, slug, name, count of each part.")
    hardware_query = models.CharField(
        max_length=2000, help_text="The rig's parameters, to estimate it again."
    )
    rows = models.JSONField(help_text="Parsed results with the estimate each was compared with.")
    raw = models.TextField(help_text="The output as pasted.")
    fingerprint = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.model_name} {self.quant} on {self.hardware_label} ({self.status})"

    @property
    def hardware_label(self) -> str:
        return ", ".join(f"{h.get('count', 1)} × {h.get('name', '')}" for h in self.hardware)

    @property
    def hardware_slugs(self) -> list[str]:
        return [h["slug"] for h in self.hardware if h.get("slug")]

    @staticmethod
    def fingerprint_of(hardware_query: str, model_slug: str, quant: str, raw: str) -> str:
        text = "\n".join((hardware_query, model_slug, quant, " ".join(raw.split())))
        return hashlib.sha256(text.encode()).hexdigest()

    def review(self, status: str, note: str = "") -> None:
        self.status = status
        self.reviewed_at = timezone.now()
        if note:
            self.review_note = note
        self.save(update_fields=["status", "reviewed_at", "review_note"])

    def calibration_rows(self) -> list[dict[str, Any]]:
        """The approved rows in the v2 calibration schema (see the calibration SOURCES)."""
        from configurator.rig.measure import v2_rows

        return v2_rows(self)
