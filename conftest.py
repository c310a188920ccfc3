"""Project root conftest: the reference backend's services are defined here (see backend/)."""
