"""The review page (plain HTML/CSS/JS in ``page/``), the local server that serves it with the photos
it boxes faces on, and its self-contained snapshot."""
