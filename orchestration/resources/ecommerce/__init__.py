from orchestration.resources.ecommerce.landing import SOURCES, LandingFolderResource

__all__ = ["SOURCES", "LandingFolderResource"]
