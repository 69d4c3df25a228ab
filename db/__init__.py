"""Database: typed models, the engine, and encryption of secrets at rest."""
