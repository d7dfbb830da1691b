"""Bot channels: one module per bot platform's format, behind ``channels.base.BotChannel``."""
