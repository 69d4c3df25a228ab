"""Business rules: users and access, devices on nodes, nodes; no aiogram types here."""
