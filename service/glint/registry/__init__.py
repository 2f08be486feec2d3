"""glance-registry: the image database (glint.db.api.ImageDatabase) served over HTTP."""
