# A drag source for tests/gui.rs: a small GTK window whose label drags the
# files named on the command line as text/uri-list, as a file manager does.
# Run with the system's python3 (python3-gi, gir1.2-gtk-3.0).
import sys

import gi

gi.require_version("Gtk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

uris = [GLib.filename_to_uri(p, None) for p in sys.argv[1:]]
win = Gtk.Window(title="lanchat drag source")
win.set_default_size(160, 80)
box = Gtk.EventBox()
box.add(Gtk.Label(label="drag me"))
box.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
box.drag_source_add_uri_targets()
box.connect("drag-data-get", lambda w, ctx, data, info, t: data.set_uris(uris))
win.add(box)
win.connect("destroy", Gtk.main_quit)
win.show_all()
Gtk.main()
