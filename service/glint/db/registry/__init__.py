"""The registry client: the image database of a glance-registry, over HTTP."""
