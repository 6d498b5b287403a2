/* The review page: lists an event's persons through `face-persons` and changes them through
 * `face-person-actions`, with the organiser's access token. Above the grid, a strip of merge
 * suggestions ("Same person" / "Different"); a person's "All faces" opens its page, every face
 * paged, each with "Not this person" and "Photo" (photo.js: box a face the detector missed).
 *
 * Settings come from, in order: window.FACECLUSTER_CONFIG (config.js, written by the local demo),
 * then the address fragment (#personsUrl=...&actionsUrl=...&eventId=...&token=..., or #api=<base URL>
 * for both functions under one base; optional pageSize), which overrides it. The fragment never
 * reaches a server.
 * A snapshot (window.FACECLUSTER_SNAPSHOT, written by the demo) shows saved data read-only.
 */
(function () {
  "use strict";

  var snapshot = window.FACECLUSTER_SNAPSHOT || null;
  var config = resolveConfig();
  var PAGE_SIZE = Math.min(200, Number(config.pageSize) || 60);   // persons per request
  var state = {persons: [], total: 0, nextOffset: 0, unassigned: [], unassignedCount: 0, mergeSource: null,
    suggestions: [], openPerson: null, personFaces: [], personNext: null};
  var $ = function (id) { return document.getElementById(id); };
  var moreObserver = null;   // loads the next page when the "more" row nears the viewport

  function resolveConfig() {
    var result = Object.assign({}, window.FACECLUSTER_CONFIG || {});
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    params.forEach(function (value, key) { result[key] = value; });
    if (params.get("api")) {
      var base = params.get("api").replace(/\/+$/, "");
      result.personsUrl = params.get("personsUrl") || base + "/face-persons";
      result.actionsUrl = params.get("actionsUrl") || base + "/face-person-actions";
      result.selfieUrl = params.get("selfieUrl") || base + "/face-selfie-search";
    }
    if (typeof result.members === "string") {
      try { result.members = JSON.parse(result.members); } catch (e) { result.members = []; }
    }
    result.members = Array.isArray(result.members) ? result.members : [];
    return result;
  }

  // -- talking to the functions --------------------------------------------------------------
  function request(url, options) {
    options.headers = Object.assign({"Authorization": "Bearer " + config.token}, options.headers || {});
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!response.ok) {
          var message = body && body.error ? body.error.message : (text || response.statusText);
          throw new Error(message + " (HTTP " + response.status + ")");
        }
        return body;
      });
    });
  }

  function fetchPage(offset, limit) {
    var first = offset === 0 ? "true" : "false";
    var query = new URLSearchParams({event_id: config.eventId, limit: String(limit), offset: String(offset),
      include_unassigned: first, include_suggestions: first});
    return request(config.personsUrl + "?" + query.toString(), {method: "GET"});
  }

  function fetchPersonFaces(personId, offset, limit) {
    var query = new URLSearchParams({event_id: config.eventId, person_id: personId, limit: String(limit),
      offset: String(offset)});
    return request(config.personsUrl + "?" + query.toString(), {method: "GET"});
  }

  function act(body) {
    body.event_id = config.eventId;
    return request(config.actionsUrl, {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body)});
  }

  // -- loading -------------------------------------------------------------------------------
  function applyPage(page, append) {
    state.persons = append ? state.persons.concat(page.persons) : page.persons.slice();
    state.total = page.total;
    state.nextOffset = page.next_offset;
    if (page.unassigned) state.unassigned = page.unassigned;
    if (page.suggestions) state.suggestions = page.suggestions;
    if (typeof page.unassigned_count === "number") state.unassignedCount = page.unassigned_count;
  }

  function loadMore() {
    if (state.nextOffset === null || state.loading) return Promise.resolve();
    state.loading = true;
    return fetchPage(state.nextOffset, PAGE_SIZE).then(function (page) {
      applyPage(page, state.nextOffset !== 0);
      render();
    }).catch(showError).finally(function () {
      state.loading = false;
      // Observing again reports at once whether "more" is still in view (a tall screen): keep filling it.
      if (moreObserver) { moreObserver.unobserve($("more")); moreObserver.observe($("more")); }
    });
  }

  /* After a change: fetch again as many persons as are shown, so the list keeps its length. */
  function reload() {
    var wanted = Math.max(PAGE_SIZE, state.persons.length);
    var collected = null;
    function next(offset) {
      return fetchPage(offset, Math.min(200, wanted - offset)).then(function (page) {
        if (collected === null) { collected = page; } else { collected.persons = collected.persons.concat(page.persons); }
        collected.next_offset = page.next_offset;
        if (page.next_offset !== null && page.next_offset < wanted) return next(page.next_offset);
        return collected;
      });
    }
    return next(0).then(function (page) { applyPage(page, false); render(); });
  }

  // -- rendering -----------------------------------------------------------------------------
  function memberLabel(userId) {
    var member = config.members.filter(function (m) { return m.id === userId; })[0];
    return member ? member.label : userId.slice(0, 8) + "…";
  }

  function personLabel(person) {
    return person.display_name || "Unnamed person";
  }

  function plural(count, word) { return count + " " + word + (count === 1 ? "" : "s"); }

  function thumbnailImage(src, alt) {
    var img = document.createElement("img");
    img.loading = "lazy";
    img.decoding = "async";
    img.alt = alt;
    if (src) img.src = src;
    return img;
  }

  function personCard(person) {
    var card = $("person-template").content.firstElementChild.cloneNode(true);
    card.dataset.personId = person.id;
    card.dataset.status = person.status;
    card.classList.toggle("ignored", person.status === "ignored");
    card.classList.toggle("merge-source", state.mergeSource !== null && state.mergeSource.id === person.id);
    var rep = card.querySelector(".rep");
    if (person.thumbnail) rep.src = person.thumbnail;
    rep.alt = personLabel(person);
    var name = card.querySelector(".name");
    name.textContent = personLabel(person);
    name.classList.toggle("unnamed", !person.display_name);
    name.title = person.id;
    var badge = card.querySelector(".badge");
    badge.hidden = person.status === "active";
    badge.textContent = person.status;
    card.querySelector(".counts").textContent =
      plural(person.face_count, "face") + " · " + plural(person.media_count, "photo");
    var member = card.querySelector(".member");
    member.textContent = person.linked_user_id ? "Linked to " + memberLabel(person.linked_user_id) : "Not linked";
    member.classList.toggle("linked", Boolean(person.linked_user_id));
    var samples = card.querySelector(".samples");
    (person.sample_faces || []).forEach(function (face) {
      var figure = document.createElement("figure");
      figure.className = "sample";
      figure.dataset.faceId = face.face_id;
      figure.appendChild(thumbnailImage(face.thumbnail, "face"));
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "remove-face";
      remove.title = "Not this person: remove this face";
      remove.textContent = "×";
      remove.addEventListener("click", function () {
        run(remove, {action: "remove_face", person_id: person.id, face_id: face.face_id});
      });
      figure.appendChild(remove);
      samples.appendChild(figure);
    });
    wireActions(card, person);
    return card;
  }

  function wireActions(card, person) {
    var q = function (selector) { return card.querySelector(selector); };
    var linked = Boolean(person.linked_user_id);
    var ignored = person.status === "ignored";
    q(".assign").hidden = linked || ignored;
    q(".unassign").hidden = !linked;
    q(".ignore").hidden = ignored;
    q(".unignore").hidden = !ignored;
    q(".merge").hidden = ignored;

    var renameForm = q(".rename-form");
    q(".rename").addEventListener("click", function () {
      renameForm.hidden = false;
      renameForm.elements.display_name.value = person.display_name || "";
      renameForm.elements.display_name.focus();
    });
    renameForm.addEventListener("submit", function (event) {
      event.preventDefault();
      run(renameForm.querySelector(".save"),
        {action: "rename", person_id: person.id, display_name: renameForm.elements.display_name.value});
    });

    var assignForm = q(".assign-form");
    var select = assignForm.elements.member;
    config.members.forEach(function (m) { select.appendChild(new Option(m.label, m.id)); });
    select.hidden = config.members.length === 0;
    assignForm.elements.user_id.hidden = config.members.length > 0;
    q(".assign").addEventListener("click", function () { assignForm.hidden = false; });
    assignForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var userId = config.members.length ? select.value : assignForm.elements.user_id.value.trim();
      run(assignForm.querySelector(".save"), {action: "assign", person_id: person.id, user_id: userId});
    });
    card.querySelectorAll(".inline-form .cancel").forEach(function (button) {
      button.addEventListener("click", function () { button.closest("form").hidden = true; });
    });

    q(".unassign").addEventListener("click", function (e) {
      run(e.currentTarget, {action: "unassign", person_id: person.id});
    });
    q(".ignore").addEventListener("click", function (e) {
      run(e.currentTarget, {action: "ignore", person_id: person.id});
    });
    q(".unignore").addEventListener("click", function (e) {
      run(e.currentTarget, {action: "unignore", person_id: person.id});
    });
    q(".open").addEventListener("click", function () { openPerson(person); });
    q(".merge").addEventListener("click", function () { startMerge(person); });
    q(".merge-into").addEventListener("click", function (e) {
      var source = state.mergeSource;
      stopMerge();
      run(e.currentTarget, {action: "merge", person_id: source.id, into_person_id: person.id});
    });
  }

  function suggestionSide(person) {
    var side = document.createElement("div");
    side.className = "side";
    side.dataset.personId = person.id;
    var rep = thumbnailImage(person.thumbnail, personLabel(person));
    rep.className = "rep";
    side.appendChild(rep);
    var name = document.createElement("div");
    name.className = "name";
    name.textContent = personLabel(person);
    side.appendChild(name);
    var counts = document.createElement("div");
    counts.className = "counts";
    counts.textContent = plural(person.face_count, "face");
    side.appendChild(counts);
    var faces = document.createElement("div");
    faces.className = "faces";
    (person.sample_faces || []).slice(0, 3).forEach(function (face) {
      faces.appendChild(thumbnailImage(face.thumbnail, "face"));
    });
    side.appendChild(faces);
    return side;
  }

  function suggestionCard(suggestion) {
    var card = $("suggestion-template").content.firstElementChild.cloneNode(true);
    card.dataset.a = suggestion.a.id;
    card.dataset.b = suggestion.b.id;
    var sides = card.querySelectorAll(".side");
    sides[0].replaceWith(suggestionSide(suggestion.a));
    sides[1].replaceWith(suggestionSide(suggestion.b));
    card.querySelector(".score").textContent = "Similarity " + suggestion.score.toFixed(2);
    var pair = {person_id: suggestion.a.id, other_person_id: suggestion.b.id};
    card.querySelector(".same").addEventListener("click", function (e) {
      run(e.currentTarget, Object.assign({action: "accept_suggestion"}, pair));
    });
    card.querySelector(".different").addEventListener("click", function (e) {
      run(e.currentTarget, Object.assign({action: "reject_suggestion"}, pair));
    });
    return card;
  }

  function renderSuggestions() {
    var cards = document.createDocumentFragment();
    state.suggestions.forEach(function (suggestion) { cards.appendChild(suggestionCard(suggestion)); });
    $("suggestions").replaceChildren(cards);
    $("suggestions-count").textContent = "(" + state.suggestions.length + ")";
    $("suggestions-section").hidden = state.openPerson !== null || state.suggestions.length === 0;
  }

  // -- a person's page -----------------------------------------------------------------------
  function openPerson(person) {
    state.openPerson = person;
    state.personFaces = [];
    state.personNext = 0;
    $("persons-section").hidden = true;
    $("unassigned-section").hidden = true;
    $("person-page").hidden = false;
    renderSuggestions();
    window.scrollTo(0, 0);
    return loadPersonFaces();
  }

  function closePerson() {
    state.openPerson = null;
    $("person-page").hidden = true;
    $("persons-section").hidden = false;
    render();
  }

  function loadPersonFaces() {
    if (state.openPerson === null || state.personNext === null) return Promise.resolve();
    return fetchPersonFaces(state.openPerson.id, state.personNext, PAGE_SIZE).then(function (page) {
      state.openPerson = page.person;
      state.personFaces = state.personFaces.concat(page.faces);
      state.personNext = page.next_offset;
      renderPersonPage();
    }).catch(showError);
  }

  /* After "Not this person": the same number of faces again, from the top. */
  function reloadPersonFaces() {
    var wanted = Math.max(PAGE_SIZE, state.personFaces.length);
    state.personFaces = [];
    state.personNext = 0;
    function next() {
      return loadPersonFaces().then(function () {
        if (state.personNext !== null && state.personFaces.length < wanted) return next();
      });
    }
    return next();
  }

  function renderPersonPage() {
    var person = state.openPerson;
    $("person-page-heading").textContent = personLabel(person);
    $("person-page-count").textContent = "(" + plural(person.face_count, "face") + ")";
    var faces = document.createDocumentFragment();
    state.personFaces.forEach(function (face) {
      var figure = document.createElement("figure");
      figure.className = "person-face";
      figure.dataset.faceId = face.face_id;
      figure.appendChild(thumbnailImage(face.thumbnail, "face of " + personLabel(person)));
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "not-this-person";
      remove.textContent = "Not this person";
      remove.addEventListener("click", function () {
        hideError();
        remove.disabled = true;
        act({action: "remove_face", person_id: person.id, face_id: face.face_id})
          .then(function () { return Promise.all([reloadPersonFaces(), reload()]); })
          .catch(showError);
      });
      figure.appendChild(remove);
      if (window.faceclusterPhoto) figure.appendChild(photoButton(face, person));
      faces.appendChild(figure);
    });
    $("person-faces").replaceChildren(faces);
    $("person-more").hidden = state.personNext === null;
  }

  /* "Photo": the face's whole photo, to box a face the detector missed there (photo.js). */
  function photoButton(face, person) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "open-photo";
    button.textContent = "Photo";
    button.title = "Open the photo to add a face the detector missed";
    button.addEventListener("click", function () { hideError(); window.faceclusterPhoto.open(face.media_id, person); });
    return button;
  }

  function render() {
    var filter = $("filter").value.trim().toLowerCase();
    var shown = state.persons.filter(function (p) {
      return !filter || personLabel(p).toLowerCase().indexOf(filter) !== -1;
    });
    var fragment = document.createDocumentFragment();
    shown.forEach(function (person) { fragment.appendChild(personCard(person)); });
    $("persons").replaceChildren(fragment);
    $("empty").hidden = state.persons.length > 0;
    $("more").hidden = snapshot !== null || state.nextOffset === null;
    $("stats").textContent = plural(state.total, "person") + " · " + plural(state.unassignedCount, "unassigned face");

    $("unassigned-section").hidden = state.openPerson !== null || state.unassignedCount === 0;
    $("unassigned-count").textContent = "(" + state.unassignedCount + ")";
    var faces = document.createDocumentFragment();
    state.unassigned.forEach(function (face) {
      var img = thumbnailImage(face.thumbnail, "unassigned face");
      img.dataset.faceId = face.face_id;
      faces.appendChild(img);
    });
    $("unassigned").replaceChildren(faces);
    renderSuggestions();
  }

  // -- actions -------------------------------------------------------------------------------
  function run(button, body) {
    hideError();
    if (button) button.disabled = true;
    return act(body).then(reload).catch(showError).finally(function () {
      if (button && button.isConnected) button.disabled = false;
    });
  }

  function startMerge(person) {
    state.mergeSource = person;
    document.body.classList.add("merging");
    $("merge-source-name").textContent = personLabel(person);
    $("merge-banner").hidden = false;
    render();
  }

  function stopMerge() {
    state.mergeSource = null;
    document.body.classList.remove("merging");
    $("merge-banner").hidden = true;
    render();
  }

  function showError(error) {
    var notice = $("notice");
    notice.textContent = String(error && error.message ? error.message : error);
    notice.hidden = false;
  }

  function hideError() { $("notice").hidden = true; }

  // -- start ---------------------------------------------------------------------------------
  function showSetup() {
    var form = $("setup");
    form.hidden = false;
    $("filter").hidden = true;
    ["personsUrl", "actionsUrl", "eventId", "token"].forEach(function (key) {
      if (config[key]) form.elements[key].value = config[key];
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var params = new URLSearchParams();
      ["personsUrl", "actionsUrl", "eventId", "token"].forEach(function (key) {
        params.set(key, form.elements[key].value.trim());
      });
      location.hash = params.toString();
      location.reload();
    });
  }

  function start() {
    $("filter").addEventListener("input", render);
    $("merge-cancel").addEventListener("click", stopMerge);
    document.addEventListener("keydown", function (e) { if (e.key === "Escape" && state.mergeSource) stopMerge(); });
    $("load-more").addEventListener("click", loadMore);
    $("person-back").addEventListener("click", closePerson);
    $("person-load-more").addEventListener("click", loadPersonFaces);
    if (snapshot) {
      config = Object.assign(config, snapshot.meta || {});
      config.members = (snapshot.meta && snapshot.meta.members) || [];
      document.body.classList.add("readonly");
      $("snapshot-banner").textContent = "Snapshot of " + (snapshot.meta.createdAt || "the last run") +
        " (read-only). Run the demo with --keep-running to review live.";
      $("snapshot-banner").hidden = false;
      $("event-title").textContent = config.title || "";
      applyPage(snapshot.data, false);
      render();
      return;
    }
    $("event-title").textContent = config.title || "";
    if (!config.personsUrl || !config.actionsUrl || !config.eventId || !config.token) {
      $("persons-section").hidden = true;
      showSetup();
      return;
    }
    if ("IntersectionObserver" in window) {
      moreObserver = new IntersectionObserver(function (entries) {
        if (entries.some(function (e) { return e.isIntersecting; })) loadMore();
      }, {rootMargin: "400px"});
    }
    loadMore();
  }

  // The "Find me" panel (selfie.js) talks to the functions through these.
  window.faceclusterReview = {config: config, request: request, act: act, reload: reload, showError: showError,
    hideError: hideError, snapshot: snapshot,
    reloadPersonFaces: function () { return state.openPerson ? reloadPersonFaces() : Promise.resolve(); },
    person: function (id) { return state.persons.filter(function (p) { return p.id === id; })[0] || null; }};

  start();
}());
