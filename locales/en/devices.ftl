# Devices menu
cmd-devices = My devices: add, rename, remove
menu-devices = 📱 Devices

devices-header = 📱 Your devices: { $count } of { $limit }
devices-empty = None yet. Press “Add device” to get a config file and a QR code.
devices-at-limit = That is the limit: to add another, remove one of these.
devices-over-limit = That is more than your access allows: they all keep working, but to add another, remove one.
devices-line = { $number }. <b>{ $name }</b> · { $node }
devices-activity = 🤝 { $ago } ago · 📶 ↓ { $received } · ↑ { $sent }
devices-never-connected = 🤝 never connected
devices-node-unreachable = ⚠️ the server is not answering right now
devices-default-name = Device { $number }
devices-button = 📱 { $name }
devices-add = ➕ Add device
devices-added = ✅ Device added: its config and QR code are below. Give it a name so you can tell it from the others.

devices-title = 📱 <b>{ $name }</b>
devices-node = 🌍 Server: { $node }
devices-address = 📍 Address: <code>{ $address }</code>
devices-routes-line = 🧭 Routes: { $routes }
devices-config = 📄 Config and QR
devices-rename = ✏️ Rename
devices-routes = 🧭 Routes
devices-remove = 🗑 Remove
devices-back = ◀️ Back
devices-back-to-list = ◀️ All devices
devices-config-of = 📱 <b>{ $name }</b>:

devices-rename-prompt =
    Send a new name for “{ $name }”, up to 32 characters, such as “iPhone” or “Laptop”.
    Changed your mind? /cancel
devices-renamed = ✅ Name saved.
devices-rename-cancelled = Cancelled, the name stays as it was.
devices-rename-text-only = Send the name as text, or /cancel.

devices-routes-choose =
    🧭 What should go through the VPN on “{ $name }”?
    Everything else goes directly. A new config comes after you choose: import it.
devices-routes-all = 🌐 All traffic
devices-routes-current = ✅ { $title }
devices-routes-changed = ✅ Routes changed. Import the new config below: the old one keeps the old routes.

devices-remove-confirm =
    Remove “{ $name }”?
    Its config stops working at once. This cannot be undone.
devices-remove-yes = 🗑 Yes, remove
devices-removed = 🗑 “{ $name }” removed, its config no longer works.
devices-removed-node-away = 🗑 “{ $name }” removed. Server { $node } is not answering right now: the config will stop working as soon as it is back.

error-device-not-found = You have no such device. Open the list again: /devices
error-device-limit = You cannot add more devices: you have { $count } of { $limit }. Remove one in /devices to add another.
error-device-name = A name must be 1 to { $most } characters, with no control characters. Send another, or /cancel.
error-routes-unknown = There is no such set of routes. Open /devices and choose from the list.
devices-rekey = 🔑 New keys
devices-rekey-confirm =
    Make new keys for “{ $name }”?
    Its current config stops working at once — import the new one.
devices-rekey-yes = 🔑 Yes, new keys
devices-rekeyed = 🔑 New keys are ready. The old config no longer works — import the new one below.
