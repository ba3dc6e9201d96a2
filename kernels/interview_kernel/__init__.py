"""One Jupyter kernel for many interview languages: an ipykernel wrapper with a small adapter per language."""

from .languages import LANGUAGES, Availability, available

__version__ = "0.1.0"
__all__ = ["LANGUAGES", "Availability", "__version__", "available"]
