/* The "Find me" panel of the review page: the signed-in member picks a selfie, the page sends it
 * to `face-selfie-search` (the raw file as the request body, never kept) and shows the person and
 * photos found, with "This is me" (links the person to the member) and "Not me" (never offered to
 * them again), both through `face-person-actions`. Kept apart from app.js, which it uses through
 * window.faceclusterReview.
 */
(function () {
  "use strict";

  var review = window.faceclusterReview;
  var $ = function (id) { return document.getElementById(id); };
  if (!review || review.snapshot || !review.config.selfieUrl || !review.config.eventId || !review.config.token) {
    return;   // read-only snapshot, or no selfie endpoint configured: no panel
  }
  var config = review.config;

  function search(file) {
    var query = new URLSearchParams({event_id: config.eventId});
    return review.request(config.selfieUrl + "?" + query.toString(),
      {method: "POST", headers: {"Content-Type": file.type || "application/octet-stream"}, body: file});
  }

  function personLine(found) {
    var person = review.person(found.person_id);
    var row = document.createElement("article");
    row.className = "match";
    row.dataset.personId = found.person_id;
    if (person && person.thumbnail) {
      var img = document.createElement("img");
      img.src = person.thumbnail;
      img.alt = "";
      img.width = 64;
      img.height = 64;
      row.appendChild(img);
    }
    var text = document.createElement("div");
    text.className = "match-text";
    text.textContent = (person && person.display_name ? person.display_name : "Person " + found.person_id.slice(0, 8)) +
      " · similarity " + found.score.toFixed(2);
    row.appendChild(text);
    [["this-is-me", "This is me", "this_is_me"], ["not-me", "Not me", "not_me"]].forEach(function (spec) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = spec[0] + (spec[0] === "this-is-me" ? " primary" : "");
      button.textContent = spec[1];
      button.addEventListener("click", function () { answer(row, button, spec[2], found.person_id); });
      row.appendChild(button);
    });
    return row;
  }

  function answer(row, button, action, personId) {
    button.disabled = true;
    review.act({action: action, person_id: personId}).then(function () {
      row.querySelectorAll("button").forEach(function (b) { b.hidden = true; });
      var done = document.createElement("span");
      done.className = "answered";
      done.textContent = action === "this_is_me" ? "Linked to you" : "Will not be offered again";
      row.appendChild(done);
      return review.reload();
    }).catch(function (error) {
      button.disabled = false;
      review.showError(error);
    });
  }

  function show(result) {
    var box = $("find-me-result");
    box.textContent = "";
    var photos = result.media_ids.length;
    $("find-me-status").textContent = result.ambiguous
      ? "You look like two different persons here: no photo is shown rather than someone else's."
      : photos === 0 ? "No photo of you was found." : photos + (photos === 1 ? " photo" : " photos") + " of you.";
    result.persons.forEach(function (found) { box.appendChild(personLine(found)); });
    if (result.faces.length) {
      var loose = document.createElement("p");
      loose.className = "hint loose-faces";
      loose.textContent = result.faces.length + " more face(s) not yet in a person look like you.";
      box.appendChild(loose);
    }
    var list = document.createElement("ul");
    list.className = "photos";
    result.media_ids.forEach(function (id) {
      var item = document.createElement("li");
      item.dataset.mediaId = id;
      item.textContent = "Photo " + id.slice(0, 8);
      list.appendChild(item);
    });
    box.appendChild(list);
  }

  $("find-me").hidden = false;
  $("selfie-file").addEventListener("change", function (event) {
    var file = event.target.files[0];
    if (!file) return;
    review.hideError();
    $("find-me-result").textContent = "";
    $("find-me-status").textContent = "Searching…";
    search(file).then(show).catch(function (error) {
      $("find-me-status").textContent = "";
      review.showError(error);
    }).finally(function () { event.target.value = ""; });
  });
}());
