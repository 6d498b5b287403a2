/* "Add a missed face" on the review page: from a face on a person's page, the organiser opens its
 * photo, drags a box around a face the detector missed, and sends it to `face-person-actions`
 * `add_face` (for this person, or the nearest one when unticked). The box goes in the photo's
 * own pixels (the browser shows the photo EXIF-oriented, as the function reads it). The photo
 * comes from config.photoUrl (?media_id=, with the organiser's token; the demo's review server
 * serves it); without one, or in a read-only snapshot, there is no "Photo" button. Kept apart
 * from app.js, which it uses through window.faceclusterReview.
 */
(function () {
  "use strict";

  var review = window.faceclusterReview;
  var $ = function (id) { return document.getElementById(id); };
  if (!review || review.snapshot || !review.config.photoUrl || !review.config.token) return;
  var config = review.config;
  var MIN_SIDE = 8;   // pixels on screen: a smaller drag is a click, not a box
  var current = {mediaId: null, person: null, objectUrl: null, box: null, drag: null};

  function fetchPhoto(mediaId) {
    var url = config.photoUrl + (config.photoUrl.indexOf("?") === -1 ? "?" : "&") +
      new URLSearchParams({media_id: mediaId}).toString();
    return fetch(url, {headers: {"Authorization": "Bearer " + config.token}}).then(function (response) {
      if (response.ok) return response.blob();
      return response.json().catch(function () { return null; }).then(function (body) {
        throw new Error((body && body.error ? body.error.message : response.statusText) +
          " (HTTP " + response.status + ")");
      });
    });
  }

  function status(text, kind) {
    var line = $("photo-status");
    line.textContent = text;
    line.dataset.kind = kind || "";
  }

  function open(mediaId, person) {
    current.mediaId = mediaId;
    current.person = person;
    current.box = null;
    delete $("photo-dialog").dataset.faceId;
    $("photo-mark").hidden = true;
    $("photo-found").hidden = true;
    $("photo-submit").disabled = true;
    $("photo-for-person").hidden = !person;
    $("photo-person-name").textContent = person ? (person.display_name || "this person") : "";
    $("photo-use-person").checked = Boolean(person);
    status("Loading the photo…");
    $("photo-dialog").showModal();
    return fetchPhoto(mediaId).then(function (blob) {
      if (current.objectUrl) URL.revokeObjectURL(current.objectUrl);
      current.objectUrl = URL.createObjectURL(blob);
      $("photo-image").src = current.objectUrl;
      status("Drag a box around the missed face (forehead to chin).");
    }).catch(function (error) { status(error.message, "error"); });
  }

  function forget() {
    current.drag = null;
    $("photo-image").removeAttribute("src");
    if (current.objectUrl) URL.revokeObjectURL(current.objectUrl);
    current.objectUrl = null;
  }

  /* A box in the photo's pixels as a rectangle over the image as laid out (and back). */
  function scale() {
    var img = $("photo-image");
    return {x: img.naturalWidth / img.clientWidth, y: img.naturalHeight / img.clientHeight};
  }

  function place(element, box) {
    var s = scale();
    element.style.left = box[0] / s.x + "px";
    element.style.top = box[1] / s.y + "px";
    element.style.width = (box[2] - box[0]) / s.x + "px";
    element.style.height = (box[3] - box[1]) / s.y + "px";
    element.hidden = false;
  }

  function point(event) {
    var rect = $("photo-image").getBoundingClientRect();
    return {x: Math.min(Math.max(event.clientX - rect.left, 0), rect.width),
      y: Math.min(Math.max(event.clientY - rect.top, 0), rect.height)};
  }

  function onDown(event) {
    if (!$("photo-image").naturalWidth) return;
    event.preventDefault();
    current.drag = point(event);
    $("photo-frame").setPointerCapture(event.pointerId);
  }

  function onMove(event) {
    if (!current.drag) return;
    var p = point(event);
    var s = scale();
    var x1 = Math.min(current.drag.x, p.x), y1 = Math.min(current.drag.y, p.y);
    var x2 = Math.max(current.drag.x, p.x), y2 = Math.max(current.drag.y, p.y);
    current.box = x2 - x1 >= MIN_SIDE && y2 - y1 >= MIN_SIDE ?
      [x1 * s.x, y1 * s.y, x2 * s.x, y2 * s.y].map(Math.round) : null;
    if (current.box) place($("photo-mark"), current.box); else $("photo-mark").hidden = true;
    $("photo-submit").disabled = !current.box;
  }

  function onUp() { current.drag = null; }

  function submit() {
    var body = {action: "add_face", media_id: current.mediaId, box: current.box};
    if (current.person && $("photo-use-person").checked) body.person_id = current.person.id;
    $("photo-submit").disabled = true;
    status("Looking for a face in the box…");
    return review.act(body).then(function (result) {
      place($("photo-found"), result.bbox);
      status(result.created ? "Face added" + (result.person_id ? " to the person." : ", in no person yet.")
        : "This face was already added.", "ok");
      $("photo-dialog").dataset.faceId = result.face_id;
      return Promise.all([review.reload(), review.reloadPersonFaces()]);
    }).catch(function (error) {
      status(error.message, "error");
      $("photo-submit").disabled = !current.box;
    });
  }

  $("photo-frame").addEventListener("pointerdown", onDown);
  $("photo-frame").addEventListener("pointermove", onMove);
  $("photo-frame").addEventListener("pointerup", onUp);
  $("photo-submit").addEventListener("click", submit);
  $("photo-close").addEventListener("click", function () { $("photo-dialog").close(); });
  $("photo-dialog").addEventListener("close", forget);

  window.faceclusterPhoto = {open: open};
}());
