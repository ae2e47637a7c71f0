-- A site's greeting and reply time in the widget's other languages: a JSON array of
-- {"lang": "fr", "greeting": "…", "reply_time": "…"} (an empty text: the site's default one).
ALTER TABLE sites ADD COLUMN translations TEXT NOT NULL DEFAULT '[]';
