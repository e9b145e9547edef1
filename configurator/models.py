"""Shared builds: immutable snapshots behind short, unguessable links."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import IntegrityError, models, transaction
from django.urls import reverse

# 8 random bytes: an 11-character URL-safe slug, 64 bits that nobody can enumerate.
SLUG_BYTES = 8


def new_slug() -> str:
    return secrets.token_urlsafe(SLUG_BYTES)


class SharedBuild(models.Model):
    """A build frozen as it was shown: parts, quantities, prices, workload, estimate and
    the software version that produced them. Never edited after creation; the page
    compares it with what the same parts cost, and estimate, today."""

    slug = models.CharField(max_length=24, unique=True, editable=False)
    snapshot = models.JSONField(editable=False)
    software_version = models.CharField(max_length=40, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

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


from configurator.rig.models import UserMeasurement  # noqa: E402, F401  (registered here)
