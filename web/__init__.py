"""The personal page and Mini App: aiohttp routes and Jinja2 templates over the services."""
