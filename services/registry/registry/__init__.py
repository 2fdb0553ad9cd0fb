"""Registry: who is who — federations, host units, women's organizations, service providers."""
