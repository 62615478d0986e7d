#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the deployment guide's diagrams (docs/deployment.md) as SVG:

    architecture.svg  Dom0 (or a display domain) with vdispld, a guest with
                      xen-front and xen-kbdfront, xenstore, and the rings,
                      event channels and grants between them;
    kms-layout.svg    the KMS screen coordinates: two displays side by side,
                      guests placed on rectangles and on a display by name.

Run it after changing what they show: python3 docs/pictures/make_pictures.py
(the SVGs are committed with it). Standard library only.
"""
import os
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
FONT = "font-family='DejaVu Sans, Verdana, sans-serif'"


class Svg:
    def __init__(self, w, h):
        self.w, self.h, self.items = w, h, []

    def rect(self, x, y, w, h, fill="#ffffff", stroke="#333333", rx=6, dash=None, sw=1.5):
        d = " stroke-dasharray='%s'" % dash if dash else ""
        self.items.append("<rect x='%g' y='%g' width='%g' height='%g' rx='%g' fill='%s' "
                          "stroke='%s' stroke-width='%g'%s/>" % (x, y, w, h, rx, fill, stroke,
                                                                 sw, d))

    def text(self, x, y, s, size=13, anchor="start", weight="normal", fill="#111111",
             mono=False):
        fam = "font-family='DejaVu Sans Mono, monospace'" if mono else FONT
        self.items.append("<text xml:space='preserve' x='%g' y='%g' %s font-size='%g' "
                          "text-anchor='%s' font-weight='%s' fill='%s'>%s</text>" % (
                              x, y, fam, size, anchor,
                                                                    weight, fill, escape(s)))

    def lines(self, x, y, lines, size=12, gap=16, **kw):
        for i, s in enumerate(lines):
            self.text(x, y + i * gap, s, size=size, **kw)

    def arrow(self, x1, y1, x2, y2, color="#1f5fa8", both=False, dash=None, sw=2):
        d = " stroke-dasharray='%s'" % dash if dash else ""
        start = " marker-start='url(#a-%s)'" % color[1:] if both else ""
        self.items.append("<line x1='%g' y1='%g' x2='%g' y2='%g' stroke='%s' stroke-width='%g'"
                          " marker-end='url(#a-%s)'%s%s/>" % (x1, y1, x2, y2, color, sw,
                                                              color[1:], start, d))

    def write(self, name, colors=("#1f5fa8", "#b5541c", "#2e7d32", "#555555")):
        marks = "".join(
            "<marker id='a-%s' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' "
            "markerHeight='7' orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' "
            "fill='%s'/></marker>" % (c[1:], c) for c in colors)
        body = "\n".join(self.items)
        svg = ("<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
               "viewBox='0 0 %d %d'>\n<defs>%s</defs>\n<rect width='100%%' height='100%%' "
               "fill='#ffffff'/>\n%s\n</svg>\n" % (self.w, self.h, self.w, self.h, marks, body))
        with open(os.path.join(HERE, name), "w") as f:
            f.write(svg)


def architecture():
    s = Svg(980, 620)
    s.text(490, 28, "vdispld: who talks to whom", size=18, anchor="middle", weight="bold")
    # Dom0 / display domain
    s.rect(20, 50, 420, 550, fill="#eef4fb")
    s.text(35, 75, "Dom0, or a display driver domain", size=15, weight="bold")
    s.rect(40, 95, 380, 305, fill="#ffffff")
    s.text(55, 118, "vdispld  (vdispld.service, one thread, one loop)", size=13, weight="bold")
    boxes = [
        (60, 135, "xenbus backends", ["backend/vdispl/DOMID/N", "backend/vinput/DOMID/N",
                                      "state machine per device"]),
        (240, 135, "connectors", ["request ring per connector", "event page: PG_FLIP",
                                  "one event per flip"]),
        (60, 250, "buffers", ["grant refs of the page dir.", "dma-buf (zero copy)",
                              "or grant map (+ copy)"]),
        (240, 250, "output + input", ["kms | wayland | headless", "libinput or the",
                                      "compositor's seat"]),
    ]
    for x, y, title, body in boxes:
        s.rect(x, y, 165, 100, fill="#f7fbff", stroke="#6b8db5")
        s.text(x + 10, y + 20, title, size=12, weight="bold")
        s.lines(x + 10, y + 40, body, size=11)
    s.text(55, 385, "/dev/xen/{xenbus,evtchn,gntdev}, /run/vdispld/control", size=11,
           mono=True)
    # devices of Dom0
    s.rect(40, 430, 180, 70, fill="#fff8e6", stroke="#b5541c")
    s.lines(52, 455, ["display (KMS /dev/dri/card0)", "or a Wayland compositor"], size=11)
    s.rect(240, 430, 180, 70, fill="#fff8e6", stroke="#b5541c")
    s.lines(252, 455, ["keyboard, mouse, touch", "(/dev/input, udev seat0)"], size=11)
    s.arrow(300, 352, 130, 428, color="#b5541c")
    s.arrow(340, 428, 340, 354, color="#b5541c")
    s.rect(40, 520, 380, 60, fill="#ffffff", stroke="#777777", dash="4 3")
    s.lines(52, 543, ["vdispctl status | guests | screenshot | focus",
                      "journalctl -u vdispld, systemctl status vdispld"], size=11, mono=True)
    s.arrow(230, 518, 230, 403, color="#555555", dash="4 3")
    # xenstore
    s.rect(470, 50, 180, 160, fill="#f3f3f3")
    s.text(560, 75, "xenstore", size=15, weight="bold", anchor="middle")
    s.lines(482, 98, ["the toolstack (xl) writes", "both sides from vdispl=",
                      "and vkb=; each side", "writes its state, ring", "refs and event",
                      "channels; watches"], size=11, gap=17)
    # DomU
    s.rect(680, 50, 280, 550, fill="#eef8ee")
    s.text(695, 75, "DomU (a guest)", size=15, weight="bold")
    s.rect(700, 95, 240, 240, fill="#ffffff", stroke="#2e7d32")
    s.text(712, 118, "drm_xen_front (xen-front)", size=12, weight="bold")
    s.lines(712, 140, ["/dev/dri/cardN: one connector", "per entry of connectors=;",
                       "its apps draw into buffers", "in the guest's own memory",
                       "and flip them"], size=11)
    s.rect(700, 355, 240, 90, fill="#ffffff", stroke="#2e7d32")
    s.text(712, 378, "xen-kbdfront", size=12, weight="bold")
    s.lines(712, 400, ["/dev/input/eventN: keyboard,", "pointer, multi-touch",
                       "(vkb backend-type=linux)"], size=11)
    s.rect(700, 462, 240, 125, fill="#ffffff", stroke="#777777", dash="4 3")
    s.lines(710, 480, ["device/vdispl/0/", "  be-alloc, N/resolution,", "  N/unique-id,",
                       "  N/req-ring-ref, ...", "device/vkbd/0/", "  page-gref, event-channel,",
                       "  request-abs-pointer"], size=10, gap=15, mono=True)
    # xenstore links
    s.arrow(440, 130, 468, 130, color="#555555", both=True)
    s.arrow(652, 130, 698, 130, color="#555555", both=True)
    # rings, events, grants, input: below xenstore
    s.text(560, 233, "requests (ring + event channel):", size=11, anchor="middle",
           fill="#1f5fa8")
    s.text(560, 247, "DBUF_CREATE, FB_ATTACH, PG_FLIP ...", size=11, anchor="middle",
           fill="#1f5fa8")
    s.arrow(698, 255, 422, 255, color="#1f5fa8")
    s.text(560, 280, "responses, PG_FLIP events", size=11, anchor="middle", fill="#1f5fa8")
    s.arrow(422, 288, 698, 288, color="#1f5fa8", dash="6 3")
    s.text(560, 312, "guest pages by grant refs: mapped,", size=11, anchor="middle",
           fill="#2e7d32")
    s.text(560, 326, "or exported as dma-bufs (zero copy)", size=11, anchor="middle",
           fill="#2e7d32")
    s.arrow(698, 334, 422, 334, color="#2e7d32")
    s.text(560, 372, "key, pointer, touch events", size=11, anchor="middle", fill="#b5541c")
    s.text(560, 386, "(vkb shared page + event channel)", size=11, anchor="middle",
           fill="#b5541c")
    s.arrow(422, 394, 698, 394, color="#b5541c")
    s.write("architecture.svg")


def kms_layout():
    # 1 screen pixel = 0.25 SVG units; displays side by side at their preferred widths.
    k, ox, oy = 0.28, 40, 80
    s = Svg(980, 560)
    s.text(480, 28, "KMS: the screen coordinates of connector.N = X,Y,WxH", size=18,
           anchor="middle", weight="bold")
    s.text(480, 52, "displays side by side, left to right in the kernel's order, each as "
           "wide as its preferred mode", size=12, anchor="middle")

    def screen(x, y, w, h, name, mode):
        s.rect(ox + x * k, oy + y * k, w * k, h * k, fill="#f0f0f0", stroke="#222222", rx=0,
               sw=2)
        s.text(ox + x * k + w * k / 2, oy + y * k + h * k + 18,
               "display %s, preferred mode %s" % (name, mode), size=12, weight="bold",
               anchor="middle")

    def guest(x, y, w, h, fill, label, conf):
        s.rect(ox + x * k, oy + y * k, w * k, h * k, fill=fill, stroke="#333333", rx=2)
        s.text(ox + x * k + 6, oy + y * k + 18, label, size=12, weight="bold")
        s.text(ox + x * k + 6, oy + y * k + 34, conf, size=9.5, mono=True)

    screen(0, 0, 1920, 1080, "HDMI-A-1", "1920x1080")
    screen(1920, 0, 1280, 1024, "DP-1", "1280x1024")
    guest(0, 0, 1280, 720, "#cfe3f7", "web:0", "connector.0 = 0,0,1280x720")
    guest(1280, 0, 640, 480, "#fde2c8", "nav:0", "connector.0 = 1280,0,640x480")
    guest(1000, 600, 800, 400, "#e0f2df", "widget:0 (over web:0)",
          "connector.0 = 1000,600,800x400")
    guest(1920, 0, 1280, 1024, "#efe0f5", "cluster:0", "connector.0 = DP-1")
    # coordinate ticks
    for x in (0, 1280, 1920, 3200):
        s.text(ox + x * k, oy - 8, str(x), size=11, anchor="middle")
    for y in (0, 720, 1080):
        s.text(ox - 6, oy + y * k + 4, str(y), size=11, anchor="end")
    notes = ["A rectangle belongs to the display its left edge falls on and is clipped to",
             "that display's mode; where rectangles overlap, the connector whose name",
             "sorts later is on top. A guest whose picture fits its rectangle unscaled",
             "is scanned out from an overlay plane where the driver has one; the rest is",
             "composed by copy. The pointer follows the same coordinates (focus)."]
    s.lines(40, 430, notes, size=12, gap=17)
    s.write("kms-layout.svg")


if __name__ == "__main__":
    architecture()
    kms_layout()
