"""Shared builds: immutable snapshots behind short, unguessable links."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone

# 8 random bytes: an 11-character URL-safe slug, 64 bits that nobody can enumerate.
SLUG_BYTES = 8


def new_slug() -> str:
    return secrets.token_urlsafe(SLUG_BYTES)


def fingerprint_of(snapshot: dict[str, Any]) -> str:
    """What makes two shares the same: parts and quantities, workload, every line's price
    and the software version (not the moment it was made)."""
    build = snapshot.get("build") or {}
    lines = [
        [line.get("slug"), line.get("quantity"), str(line.get("unit_price")), line.get("currency")]
        for line in build.get("lines") or []
    ]
    basis = {
        "parts": snapshot.get("parts"),
        "query": snapshot.get("query"),
        "lines": lines,
        "total": str(build.get("total")),
        "version": snapshot.get("software_version"),
    }
    text = json.dumps(basis, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class SharedBuild(models.Model):
    """A build frozen as it was shown: parts, quantities, prices, workload, estimate and
    the software version that produced them. Never edited after creation; the page
    compares it with what the same parts cost, and estimate, today."""

    slug = models.CharField(max_length=24, unique=True, editable=False)
    snapshot = models.JSONField(editable=False)
    software_version = models.CharField(max_length=40, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Sharing the same parts, workload and prices again gives the same link.
    fingerprint = models.CharField(
        max_length=64, unique=True, null=True, blank=True, editable=False
    )
    # When its page was last opened (at most once a day is recorded): snapshots nobody
    # opens are removed after SHARE_RETENTION_DAYS (manage.py prune_shared_builds).
    last_viewed_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "shared build"

    def __str__(self) -> str:
        return f"{self.slug}: {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("A shared build is an immutable snapshot; create a new one.")
        if self.slug:
            super().save(*args, **kwargs)
            return
        # A collision among 2**64 slugs is all but impossible; retry rather than assume.
        for _ in range(5):
            self.slug = new_slug()
            try:
                with transaction.atomic():
                    super().save(*args, **kwargs)
                return
            except IntegrityError:
                if not SharedBuild.objects.filter(slug=self.slug).exists():
                    raise
        raise IntegrityError("could not find a free share slug")

    def get_absolute_url(self) -> str:
        return reverse("shared_build", args=[self.slug])

    @classmethod
    def share(cls, snapshot: dict[str, Any], software_version: str) -> tuple[SharedBuild, bool]:
        """The snapshot's shared build: the existing one with the same fingerprint, else a
        new one. Returns ``(shared, created)``."""
        fingerprint = fingerprint_of(snapshot)
        existing = cls.objects.filter(fingerprint=fingerprint).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                shared = cls.objects.create(
                    snapshot=snapshot, software_version=software_version, fingerprint=fingerprint
                )
        except IntegrityError:  # the same share, made at the same moment elsewhere
            return cls.objects.get(fingerprint=fingerprint), False
        return shared, True

    def record_view(self) -> None:
        """Note that the page was opened (one write a day at most)."""
        now = timezone.now()
        if self.last_viewed_at is None or now - self.last_viewed_at > timedelta(days=1):
            SharedBuild.objects.filter(pk=self.pk).update(last_viewed_at=now)
            self.last_viewed_at = now

    @property
    def build(self) -> dict[str, Any]:
        return self.snapshot.get("build", {})

    @property
    def workload(self) -> dict[str, Any]:
        return self.snapshot.get("workload", {})

    @property
    def title(self) -> str:
        model = self.snapshot.get("model_name") or self.workload.get("model", "")
        quant = self.workload.get("quant", "")
        return " ".join(part for part in (model, quant) if part) or "build"


def shared_builds_prune(*, days: int, now=None) -> int:
    """Delete snapshots nobody has opened for ``days`` days (never-opened ones count from
    their creation); returns how many went."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    unvisited = models.Q(last_viewed_at__isnull=True, created_at__lt=cutoff) | models.Q(
        last_viewed_at__lt=cutoff
    )
    deleted, _ = SharedBuild.objects.filter(unvisited).delete()
    return deleted


from configurator.rig.models import UserMeasurement  # noqa: E402, F401  (registered here)
