// The seat map (templates/storefront/event.html): the venue drawn to scale, fitted to its box on load, zoomed
// and panned (buttons, wheel, pinch, double-tap, drag); the seats a WAI-ARIA grid that is one Tab stop, moved
// through with the arrow keys, Home/End and PageUp/PageDown; and one polite live region (#seat-announcer)
// whose text says what each press did and when a hold is about to run out. Without this file the rows flow
// and every seat is a Tab stop: the map still works.
//
// Positions come from the markup (data-x, data-y in the plan's units) and are set through the DOM here,
// because the content security policy refuses style attributes in markup. A seat redrawn by a live update
// (an out-of-band swap of its button) keeps the cell it is drawn in, so it keeps its place.
(function () {
  "use strict";
  var UNIT = 3;          // CSS pixels per plan unit at zoom 1
  var SEAT = 24;         // a seat's button at zoom 1 (static/css/boxoffice.css)
  var TAP = 48;          // a seat zoomed for a finger: 44 px or more
  var STEP = 2;          // one press of a zoom button
  var views = {};        // zoom and pan by page address and section, so that going back keeps the place
  var map = null;        // the map on the page
  var pending = null;    // what the last request of the picker was: {kind: "seat"|"picker", seat: id}
  var warnedFor = null;  // the hold expiry the two-minute warning was given for

  function announce(text) {
    var region = document.getElementById("seat-announcer");
    if (!region || !text) return;
    // Emptied first, so that the same words said twice are read twice.
    region.textContent = "";
    setTimeout(function () { region.textContent = text; }, 50);
  }

  function seatName(button) {
    return (button.getAttribute("aria-label") || "").split(", ").slice(0, 3).join(", ");
  }

  // ------------------------------------------------------------------ placing, fitting, zooming

  function SeatMap(frame) {
    this.frame = frame;
    this.viewport = frame.querySelector(".seat-map");
    this.canvas = frame.querySelector(".seat-map__canvas");
    this.width = Number(this.canvas.dataset.width) * UNIT;
    this.height = Number(this.canvas.dataset.height) * UNIT;
    this.grid = frame.querySelector("[role=grid]");
    this.key = location.pathname + location.search;
    this.scale = 1; this.x = 0; this.y = 0;
  }

  SeatMap.prototype.place = function () {
    var canvas = this.canvas;
    canvas.style.width = this.width + "px";
    canvas.style.height = this.height + "px";
    canvas.querySelectorAll("[data-x]").forEach(function (el) {
      el.style.left = Number(el.dataset.x) * UNIT + "px";
      el.style.top = Number(el.dataset.y) * UNIT + "px";
    });
    this.viewport.classList.add("is-placed");
    this.frame.querySelector(".seat-map__tools").hidden = false;
    this.size();
  };

  // The box's height: the venue's shape at the box's width, within sensible bounds of the window's height.
  SeatMap.prototype.size = function () {
    var width = this.viewport.clientWidth;
    var most = Math.max(300, Math.round(window.innerHeight * 0.7));
    var wanted = Math.round(width * this.height / this.width);
    this.viewport.style.height = Math.max(260, Math.min(most, wanted)) + "px";
  };

  SeatMap.prototype.fitScale = function () {
    return Math.min(this.viewport.clientWidth / this.width, this.viewport.clientHeight / this.height);
  };

  SeatMap.prototype.limits = function () {
    var fit = this.fitScale();
    return {min: Math.min(fit, 1), max: Math.max(fit * 1.5, 2.75)};
  };

  SeatMap.prototype.apply = function () {
    var vw = this.viewport.clientWidth, vh = this.viewport.clientHeight;
    var cw = this.width * this.scale, ch = this.height * this.scale;
    // Never lose the venue: a map smaller than its box stays centred, a larger one covers its box.
    this.x = cw <= vw ? (vw - cw) / 2 : Math.min(0, Math.max(vw - cw, this.x));
    this.y = ch <= vh ? (vh - ch) / 2 : Math.min(0, Math.max(vh - ch, this.y));
    this.canvas.style.transform = "translate(" + this.x + "px, " + this.y + "px) scale(" + this.scale + ")";
    this.frame.dataset.scale = this.scale.toFixed(4);
    views[this.viewKey()] = {scale: this.scale, x: this.x, y: this.y};
  };

  SeatMap.prototype.viewKey = function () { return this.key + "#" + (this.canvas.dataset.focusKey || ""); };

  SeatMap.prototype.fit = function () {
    this.scale = this.fitScale();
    this.x = 0; this.y = 0;
    this.apply();
  };

  // Show a box of the plan (x, y, width, height in plan units) as large as the map's box allows.
  SeatMap.prototype.show = function (box) {
    var vw = this.viewport.clientWidth, vh = this.viewport.clientHeight;
    var w = box[2] * UNIT, h = box[3] * UNIT;
    var limits = this.limits();
    this.scale = Math.max(limits.min, Math.min(limits.max, Math.min(vw / w, vh / h) * 0.95));
    this.x = vw / 2 - (box[0] * UNIT + w / 2) * this.scale;
    this.y = vh / 2 - (box[1] * UNIT + h / 2) * this.scale;
    this.apply();
  };

  // Zoom to `scale`, keeping the point (px, py) of the box where it is.
  SeatMap.prototype.zoomTo = function (scale, px, py) {
    var limits = this.limits();
    scale = Math.max(limits.min, Math.min(limits.max, scale));
    this.x = px - (px - this.x) * scale / this.scale;
    this.y = py - (py - this.y) * scale / this.scale;
    this.scale = scale;
    this.apply();
  };

  // The point of the box a zoom button zooms around: the seat with focus if it is in view, else the middle.
  SeatMap.prototype.anchor = function () {
    var active = this.active();
    var box = this.viewport.getBoundingClientRect();
    if (active) {
      var r = active.getBoundingClientRect();
      var cx = r.left + r.width / 2 - box.left, cy = r.top + r.height / 2 - box.top;
      if (cx >= 0 && cy >= 0 && cx <= box.width && cy <= box.height) return [cx, cy];
    }
    return [box.width / 2, box.height / 2];
  };

  SeatMap.prototype.reveal = function (el) {
    var box = this.viewport.getBoundingClientRect(), r = el.getBoundingClientRect();
    var margin = Math.min(48, box.width / 4);
    if (r.left >= box.left + 4 && r.right <= box.right - 4 && r.top >= box.top + 4 && r.bottom <= box.bottom - 4) return;
    this.x += box.left + box.width / 2 - (r.left + r.width / 2);
    this.y += box.top + box.height / 2 - (r.top + r.height / 2);
    if (margin) this.apply();
  };

  // ------------------------------------------------------------------ the grid: one Tab stop, arrow keys

  SeatMap.prototype.seats = function () { return this.grid ? this.grid.querySelectorAll(".seat") : []; };
  SeatMap.prototype.rows = function () { return this.grid ? this.grid.querySelectorAll("[role=row]") : []; };

  SeatMap.prototype.active = function () {
    return this.grid && this.grid.querySelector('.seat[tabindex="0"]');
  };

  SeatMap.prototype.activate = function (button, focus) {
    if (!button) return;
    this.seats().forEach(function (seat) { seat.tabIndex = seat === button ? 0 : -1; });
    this.activeId = button.id;
    if (focus) {
      button.focus({preventScroll: true});
      this.reveal(button);
    }
  };

  // After a swap: every seat but the active one leaves the Tab order again, and a seat that had the focus
  // when a live update redrew it gets it back.
  SeatMap.prototype.adopt = function () {
    if (!this.grid) return;
    var active = (this.activeId && document.getElementById(this.activeId)) ||
      this.grid.querySelector(".seat--mine") || this.grid.querySelector(".seat--available") ||
      this.grid.querySelector(".seat");
    var lost = this.focusedSeat && !document.body.contains(this.focusedSeat) &&
      (!document.activeElement || document.activeElement === document.body);
    this.activate(active, false);
    if (lost && active) active.focus({preventScroll: true});
    this.focusedSeat = lost ? active : this.focusedSeat;
  };

  function cellOf(button) { return button.closest("[role=gridcell]"); }

  SeatMap.prototype.move = function (button, key, ctrl) {
    var row = button.closest("[role=row]");
    var inRow = Array.prototype.slice.call(row.querySelectorAll(".seat"));
    var rows = Array.prototype.slice.call(this.rows());
    var index = inRow.indexOf(button), r = rows.indexOf(row);
    function nearest(targetRow) {
      var x = Number(cellOf(button).dataset.x), best = null, distance = Infinity;
      targetRow.querySelectorAll(".seat").forEach(function (seat) {
        var d = Math.abs(Number(cellOf(seat).dataset.x) - x);
        if (d < distance) { distance = d; best = seat; }
      });
      return best;
    }
    switch (key) {
      case "ArrowRight": return inRow[index + 1];
      case "ArrowLeft": return inRow[index - 1];
      case "ArrowDown": return rows[r + 1] && nearest(rows[r + 1]);
      case "ArrowUp": return rows[r - 1] && nearest(rows[r - 1]);
      case "PageDown": return nearest(rows[Math.min(rows.length - 1, r + 5)]);
      case "PageUp": return nearest(rows[Math.max(0, r - 5)]);
      case "Home": return ctrl ? rows[0].querySelector(".seat") : inRow[0];
      case "End":
        if (ctrl) { var last = rows[rows.length - 1].querySelectorAll(".seat"); return last[last.length - 1]; }
        return inRow[inRow.length - 1];
    }
    return undefined;
  };

  // ------------------------------------------------------------------ pointer: drag, pinch, taps, wheel

  SeatMap.prototype.listen = function () {
    var self = this, viewport = this.viewport;
    var pointers = {}, start = null, dragged = false, lastTap = null, lastType = "mouse", touchTap = false;

    function point(e) {
      var box = viewport.getBoundingClientRect();
      return [e.clientX - box.left, e.clientY - box.top];
    }
    function spread() {
      var ids = Object.keys(pointers);
      var a = pointers[ids[0]], b = pointers[ids[1]];
      return {d: Math.hypot(a[0] - b[0], a[1] - b[1]), mid: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]};
    }
    viewport.addEventListener("pointerdown", function (e) {
      if (e.pointerType === "mouse" && e.button !== 0) return;
      lastType = e.pointerType;
      pointers[e.pointerId] = point(e);
      var count = Object.keys(pointers).length;
      if (count === 1) {
        start = {p: point(e), x: self.x, y: self.y, touch: e.pointerType !== "mouse"};
        dragged = false;
      } else if (count === 2) {
        var s = spread();
        start = {pinch: s.d, scale: self.scale, mid: s.mid, x: self.x, y: self.y};
        dragged = true;
      }
    });
    viewport.addEventListener("pointermove", function (e) {
      if (!(e.pointerId in pointers) || !start) return;
      pointers[e.pointerId] = point(e);
      if (start.pinch) {
        var s = spread();
        self.zoomTo(start.scale * s.d / start.pinch, s.mid[0], s.mid[1]);
        return;
      }
      var p = point(e), dx = p[0] - start.p[0], dy = p[1] - start.p[1];
      if (!dragged && Math.hypot(dx, dy) < 6) return;
      if (!dragged) {
        dragged = true;
        viewport.classList.add("is-dragging");
        viewport.setPointerCapture(e.pointerId);
      }
      self.x = start.x + dx; self.y = start.y + dy;
      self.apply();
    });
    function end(e) {
      delete pointers[e.pointerId];
      viewport.classList.remove("is-dragging");
      if (!Object.keys(pointers).length) {
        touchTap = !dragged && !!start && !!start.touch;
        // A tap: two taps close together zoom in (the seats big enough to press are left alone).
        if (!dragged && start && start.touch) {
          var p = point(e), now = Date.now();
          if (lastTap && now - lastTap.t < 350 && Math.hypot(p[0] - lastTap.p[0], p[1] - lastTap.p[1]) < 30) {
            self.zoomTo(self.scale * 2, p[0], p[1]);
            lastTap = null;
          } else {
            lastTap = {t: now, p: p};
          }
        }
        start = dragged ? {dragEnded: true} : null;
      }
    }
    viewport.addEventListener("pointerup", end);
    viewport.addEventListener("pointercancel", end);
    // A drag or a pinch is not a press; a tap on seats too small for a finger zooms in to them first.
    viewport.addEventListener("click", function (e) {
      if (start && start.dragEnded) {
        start = null;
        e.preventDefault(); e.stopPropagation();
        return;
      }
      var seat = e.target.closest(".seat");
      if (seat && e.detail > 0 && touchTap && SEAT * self.scale < 30) {
        e.preventDefault(); e.stopPropagation();
        var p = point(e);
        self.zoomTo(TAP / SEAT, p[0], p[1]);
      }
      start = null;
      touchTap = false;
    }, true);
    viewport.addEventListener("dblclick", function (e) {
      // A finger's double tap is counted by the taps above (the browser may send a dblclick as well).
      if (lastType !== "mouse" || e.target.closest(".seat, a")) return;
      var p = point(e);
      self.zoomTo(self.scale * 2, p[0], p[1]);
    });
    viewport.addEventListener("wheel", function (e) {
      e.preventDefault();
      var p = point(e);
      var delta = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
      self.zoomTo(self.scale * Math.exp(-delta * 0.0015), p[0], p[1]);
    }, {passive: false});

    this.frame.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var how = button.dataset.zoom;
        if (how === "fit") { self.fit(); return; }
        var a = self.anchor();
        self.zoomTo(how === "in" ? self.scale * STEP : self.scale / STEP, a[0], a[1]);
        var active = self.active();
        if (active && how === "in") self.reveal(active);
      });
    });

    if (this.grid) {
      this.grid.addEventListener("keydown", function (e) {
        var seat = e.target.closest(".seat");
        if (!seat) return;
        var next = self.move(seat, e.key, e.ctrlKey || e.metaKey);
        if (next === undefined) return;
        e.preventDefault();
        if (next) self.activate(next, true);
      });
      this.grid.addEventListener("focusin", function (e) {
        var seat = e.target.closest(".seat");
        self.focusedSeat = seat;
        if (seat) { self.activate(seat, false); self.reveal(seat); }
      });
      this.grid.addEventListener("focusout", function (e) {
        if (e.relatedTarget) self.focusedSeat = null;
      });
    }
  };

  function init() {
    var frame = document.querySelector("[data-seat-map]");
    if (!frame || !frame.querySelector(".seat-map__canvas")) { map = null; return; }
    var previous = map;
    map = new SeatMap(frame);
    if (previous && previous.grid && previous.activeId) map.activeId = previous.activeId;
    map.place();
    var kept = views[map.viewKey()];
    var focus = map.canvas.dataset.focus;
    if (kept) {
      map.scale = kept.scale; map.x = kept.x; map.y = kept.y;
      map.apply();
    } else if (focus) {
      map.show(focus.split(",").map(Number));
    } else {
      map.fit();
    }
    map.adopt();
    map.listen();
  }

  // ------------------------------------------------------------------ presses, swaps and what is said

  document.addEventListener("click", function (e) {
    var seat = e.target.closest && e.target.closest(".seat-grid .seat");
    if (!seat) return;
    var picker = seat.closest("#seat-picker");
    var readOnly = seat.closest(".seat-map--read-only");
    if (readOnly) {
      e.preventDefault();
      announce(seatName(seat) + ": " + (picker.dataset.saleMessage || "seats cannot be chosen now") + ".");
      return;
    }
    if (seat.getAttribute("aria-disabled") === "true") {
      // Sold or held by someone else: said at once, without asking the box office.
      e.preventDefault();
      var sold = seat.classList.contains("seat--sold");
      announce(seatName(seat) + (sold ? " is sold." : " is held by someone else."));
      return;
    }
    pending = {kind: "seat", seat: seat.id};
  }, true);

  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail.elt;
    if (!elt.closest || !elt.closest("#seat-picker") || elt.id === "seat-poller") return;
    if (elt.classList.contains("seat-map")) return;  // a seat: `pending` is set by its click
    pending = {kind: "picker"};
  });

  function statusText() {
    var status = document.getElementById("seat-picker-status");
    return status ? status.textContent.trim() : "";
  }

  document.addEventListener("htmx:afterSettle", function (e) {
    if (!map || !document.body.contains(map.canvas)) init();
    else map.adopt();
    if (!pending) return;
    var done = pending;
    pending = null;
    var error = document.querySelector("#seat-picker-status .alert--error");
    if (done.kind === "seat") {
      var seat = document.getElementById(done.seat);
      if (error) announce(error.textContent.trim());
      else if (seat) {
        var count = document.querySelectorAll("#cart .cart__seats li").length;
        announce(seatName(seat) + (seat.getAttribute("aria-pressed") === "true"
          ? " held for you. " + count + (count === 1 ? " seat" : " seats") + " in your basket."
          : " given back."));
      }
      if (seat && map) map.activate(seat, document.activeElement === document.body || document.activeElement === seat);
    } else {
      var text = statusText();
      if (text) {
        announce(text);
        document.getElementById("seat-picker-status").focus();
      } else if (map && map.active()) {
        map.activate(map.active(), true);
      } else if (map) {
        var link = map.canvas.querySelector(".seat-plan-map__link--current") || map.canvas.querySelector("a");
        if (link) link.focus({preventScroll: true});
      }
    }
  });

  document.addEventListener("htmx:historyRestore", function () { map = null; init(); });

  // "Skip to your seats": to the seat with focus in the grid (or the plan's first section).
  document.addEventListener("click", function (e) {
    var skip = e.target.closest && e.target.closest("[data-skip-to-seats]");
    if (!skip || !map) return;
    var target = map.active() || map.canvas.querySelector("a");
    if (!target) return;
    e.preventDefault();
    map.frame.scrollIntoView({block: "start"});
    target.focus({preventScroll: true});
    if (target.classList.contains("seat")) map.reveal(target);
  });

  // "2 minutes left on your hold", said once per hold.
  setInterval(function () {
    var until = document.querySelector("#cart [data-countdown-until]");
    if (!until) return;
    var left = (Date.parse(until.dataset.countdownUntil) - Date.now()) / 1000;
    if (left > 0 && left <= 120 && warnedFor !== until.dataset.countdownUntil) {
      warnedFor = until.dataset.countdownUntil;
      announce("2 minutes left on your hold.");
    }
  }, 1000);

  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      if (!map) return;
      map.size();
      map.fit();
    }, 150);
  });

  document.addEventListener("DOMContentLoaded", init);
})();

// The catalogue: after a filter changes the results, only their number is read out (#results-status).
document.addEventListener("htmx:afterSettle", function (e) {
  if (!e.detail.target || e.detail.target.id !== "results") return;
  var status = document.getElementById("results-status");
  var count = document.querySelector("#results [data-results-count]");
  if (!status || !count) return;
  var text = count.querySelector("h2") ? count.querySelector("h2").textContent : count.textContent;
  status.textContent = text.trim() + ".";
});

// Skip links take the focus with them (not only the scroll position), so that the next Tab starts there and
// the focus is never left on nothing.
document.addEventListener("click", function (e) {
  var link = e.target.closest && e.target.closest("a.skip-link[href^='#']:not([data-skip-to-seats])");
  if (!link) return;
  var target = document.getElementById(link.getAttribute("href").slice(1));
  if (!target) return;
  if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
  target.focus();
});
