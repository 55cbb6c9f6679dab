// The seat map (templates/storefront/event.html): the venue drawn to scale, fitted to its box on load, zoomed
// and panned (buttons, wheel, pinch, double-tap, drag); the seats a WAI-ARIA grid that is one Tab stop, moved
// through with the arrow keys, Home/End and PageUp/PageDown; zoomed in, a minimap of the whole venue under the
// map's box that shows where the view is and moves it (pointer and keyboard); and one polite live region
// (#seat-announcer) whose text says what each press did and when a hold is about to run out. Without this
// file the rows flow and every seat is a Tab stop: the map still works.
//
// Positions come from the markup (each seat row's data-xy: the centres of its cells, in the plan's units)
// and are set through the DOM here, because the content security policy refuses style attributes in markup.
// A seat redrawn by a live update (an out-of-band swap of its button) keeps the cell it is drawn in, so it
// keeps its place.
(function () {
  "use strict";
  var UNIT = 3;          // CSS pixels per plan unit at zoom 1
  var SEAT = 24;         // a seat's button at zoom 1 (static/css/boxoffice.css)
  var TAP = 48;          // a seat zoomed for a finger: 44 px or more
  var STEP = 2;          // one press of a zoom button
  var SVG = "http://www.w3.org/2000/svg";
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
    canvas.querySelectorAll("tr[data-xy]").forEach(function (row) {
      row.dataset.xy.split(" ").forEach(function (point, i) {
        var cell = row.cells[i], xy = point.split(",");
        cell.planX = Number(xy[0]);
        cell.style.left = xy[0] * UNIT + "px";
        cell.style.top = xy[1] * UNIT + "px";
      });
    });
    this.viewport.classList.add("is-placed");
    this.frame.querySelector(".seat-map__tools").hidden = false;
    this.minimap = new Minimap(this);
    this.size();
  };

  // The box's height: the venue's shape at the box's width, within sensible bounds of the window's height.
  SeatMap.prototype.size = function () {
    var width = this.viewport.clientWidth;
    var most = Math.max(300, Math.round(window.innerHeight * 0.7));
    var wanted = Math.round(width * this.height / this.width);
    this.viewport.style.height = Math.max(260, Math.min(most, wanted)) + "px";
    this.minimap.size();
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
    if (this.minimap) this.minimap.update();
  };

  // Put the point (px, py) of the canvas (CSS pixels at zoom 1) in the middle of the box, at the same zoom.
  SeatMap.prototype.centreOn = function (px, py) {
    this.x = this.viewport.clientWidth / 2 - px * this.scale;
    this.y = this.viewport.clientHeight / 2 - py * this.scale;
    this.apply();
  };

  // ------------------------------------------------------------------ the minimap: where the view is

  // Zoomed in, the whole venue drawn small under the map's box, at its right, never over a seat (the stage,
  // the sections and each seat row as a line), with a frame round the part in view. A press or a drag on it moves the view
  // there. The frame is a slider of its own (one Tab stop, named, its value saying which sections are in
  // view and where): the arrow keys move the view by a quarter of the box, PageUp and PageDown by a whole
  // box, Home to the middle of the venue; Tab leaves it as anything else. Hidden when the whole venue shows.
  function Minimap(map) {
    var plan = map.canvas.querySelector(".seat-plan-map");
    this.map = map;
    this.box = document.createElement("div");
    this.box.className = "seat-map__minimap";
    this.box.hidden = true;
    var drawing = document.createElementNS(SVG, "svg");
    drawing.setAttribute("viewBox", "0 0 " + map.canvas.dataset.width + " " + map.canvas.dataset.height);
    drawing.setAttribute("aria-hidden", "true");
    drawing.setAttribute("focusable", "false");
    this.sections = [];
    var self = this;
    plan.querySelectorAll(".seat-plan-map__stage, .seat-plan-map__section").forEach(function (shape) {
      // The copy keeps its fill (a section's category pattern), under a class of the minimap's own.
      var copy = shape.cloneNode(false), section = shape.classList.contains("seat-plan-map__section");
      copy.classList.replace(section ? "seat-plan-map__section" : "seat-plan-map__stage",
                             section ? "seat-map__minimap-section" : "seat-map__minimap-stage");
      drawing.appendChild(copy);
      if (section) self.sections.push({name: sectionName(shape), box: shape.getBBox()});
    });
    map.canvas.querySelectorAll("tr[data-xy]").forEach(function (row) {
      var line = document.createElementNS(SVG, "polyline");
      line.setAttribute("class", "seat-map__minimap-row");
      line.setAttribute("points", row.dataset.xy.split(" ").slice(1).join(" "));
      drawing.appendChild(line);
    });
    this.view = document.createElement("div");
    this.view.className = "seat-map__minimap-view";
    this.view.tabIndex = 0;
    this.view.setAttribute("role", "slider");
    this.view.setAttribute("aria-label", "Part of the venue in view. Arrow keys move it.");
    this.view.setAttribute("aria-valuemin", "0");
    this.view.setAttribute("aria-valuemax", "100");
    this.box.appendChild(drawing);
    this.box.appendChild(this.view);
    map.frame.appendChild(this.box);
    this.listen();
  }

  function sectionName(shape) {
    var link = shape.closest("a");
    if (link) return link.getAttribute("aria-label").split(":")[0];
    var label = shape.nextElementSibling;
    return label && label.classList.contains("seat-plan-map__section-label") ? label.textContent : "";
  }

  // At most a third of the box's width, and 45 % of its height or 150 px (the page grows by it), the
  // venue's shape.
  Minimap.prototype.size = function () {
    var viewport = this.map.viewport, ratio = this.map.height / this.map.width;
    var width = Math.min(180, viewport.clientWidth / 3, Math.min(150, viewport.clientHeight * 0.45) / ratio);
    this.box.style.width = Math.round(width) + "px";
    this.box.style.height = Math.round(width * ratio) + "px";
    this.px = width / this.map.width;  // minimap pixels per canvas pixel
  };

  Minimap.prototype.update = function () {
    var map = this.map, zoomed = map.scale > map.fitScale() * 1.02;
    this.box.hidden = !zoomed;
    if (!zoomed) return;
    var left = -map.x / map.scale, top = -map.y / map.scale;
    var width = map.viewport.clientWidth / map.scale, height = map.viewport.clientHeight / map.scale;
    this.view.style.left = left * this.px + "px";
    this.view.style.top = top * this.px + "px";
    this.view.style.width = Math.max(4, width * this.px) + "px";
    this.view.style.height = Math.max(4, height * this.px) + "px";
    var middle = (left + width / 2) / map.width, depth = (top + height / 2) / map.height;
    this.view.setAttribute("aria-valuenow", String(Math.round(middle * 100)));
    this.view.setAttribute("aria-valuetext", this.describe(left / UNIT, top / UNIT, width / UNIT, height / UNIT,
                                                           middle, depth));
  };

  // "Stalls, Terrace Left in view: front left of the venue"
  Minimap.prototype.describe = function (x, y, w, h, middle, depth) {
    var seen = this.sections.filter(function (s) {
      return s.box.x < x + w && x < s.box.x + s.box.width && s.box.y < y + h && y < s.box.y + s.box.height;
    }).map(function (s) { return s.name; }).filter(Boolean);
    var across = middle < 0.36 ? "left" : middle > 0.64 ? "right" : "centre";
    var along = depth < 0.36 ? "front" : depth > 0.64 ? "back" : "middle";
    var where = along === "middle" && across === "centre" ? "the middle" : along + " " + across;
    return (seen.length ? seen.slice(0, 4).join(", ") + " in view: " : "") + where + " of the venue";
  };

  Minimap.prototype.listen = function () {
    var self = this, map = this.map, pressed = false;
    function moveTo(e) {
      var box = self.box.getBoundingClientRect();
      map.centreOn((e.clientX - box.left) / self.px, (e.clientY - box.top) / self.px);
    }
    this.box.addEventListener("pointerdown", function (e) {
      if (e.pointerType === "mouse" && e.button !== 0) return;
      pressed = true;
      self.box.setPointerCapture(e.pointerId);
      moveTo(e);
      e.preventDefault();
      self.view.focus({preventScroll: true});
    });
    this.box.addEventListener("pointermove", function (e) { if (pressed) moveTo(e); });
    this.box.addEventListener("pointerup", function () { pressed = false; });
    this.box.addEventListener("pointercancel", function () { pressed = false; });
    this.view.addEventListener("keydown", function (e) {
      var vw = map.viewport.clientWidth, vh = map.viewport.clientHeight;
      var moves = {ArrowLeft: [vw / 4, 0], ArrowRight: [-vw / 4, 0], ArrowUp: [0, vh / 4], ArrowDown: [0, -vh / 4],
                   PageUp: [0, vh], PageDown: [0, -vh]};
      if (e.key === "Home") {
        map.centreOn(map.width / 2, map.height / 2);
      } else if (moves[e.key]) {
        map.x += moves[e.key][0];
        map.y += moves[e.key][1];
        map.apply();
      } else {
        return;
      }
      e.preventDefault();
    });
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
  SeatMap.prototype.rows = function () { return this.grid ? this.grid.querySelectorAll("tr.seat-row") : []; };

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
    if (lost && active) this.refocus(active);
    this.focusedSeat = lost ? active : this.focusedSeat;
  };

  // A seat that had the focus before it was redrawn gets it back where it is: the view does not move.
  SeatMap.prototype.refocus = function (button) {
    this.restoring = true;
    button.focus({preventScroll: true});
    this.restoring = false;
  };

  function cellOf(button) { return button.closest("td"); }

  SeatMap.prototype.move = function (button, key, ctrl) {
    var row = button.closest("tr");
    var inRow = Array.prototype.slice.call(row.querySelectorAll(".seat"));
    var rows = Array.prototype.slice.call(this.rows());
    var index = inRow.indexOf(button), r = rows.indexOf(row);
    function nearest(targetRow) {
      var x = cellOf(button).planX, best = null, distance = Infinity;
      targetRow.querySelectorAll(".seat").forEach(function (seat) {
        var d = Math.abs(cellOf(seat).planX - x);
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
        // Brought into view when the focus came from the keyboard only: a seat half out of the box, pressed by
        // mouse or finger, must stay under the pointer, or the click that follows lands beside it.
        if (seat) {
          self.activate(seat, false);
          if (!self.restoring && seat.matches(":focus-visible")) self.reveal(seat);
        }
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
      if (seat && map) {
        map.activate(seat, false);
        if (document.activeElement === document.body || document.activeElement === seat) map.refocus(seat);
      }
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
