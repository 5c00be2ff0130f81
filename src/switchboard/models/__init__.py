"""Model registry: pinned base models, their requantized variants, and where they live."""

from switchboard.models.catalog import CATALOG, ModelSpec, PackagePart
from switchboard.models.quantize import QUANT_TYPES
from switchboard.models.registry import ModelEntry, ModelRegistry

__all__ = ["CATALOG", "QUANT_TYPES", "ModelEntry", "ModelRegistry", "ModelSpec", "PackagePart"]
