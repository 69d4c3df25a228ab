"""Payment providers behind one small interface: YooKassa and Telegram Stars."""
