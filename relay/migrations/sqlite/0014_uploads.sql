-- Files uploaded from the widget or the dashboard live in `attachments` too (one storage, one
-- download path): `source_kind = 'upload'`, `source` = who uploaded it ('visitor' or
-- 'advisor:ID'), `state = 'ready'` at once (the relay has the bytes), and `seq = 0` until a message
-- takes it (seqs start at 1). An upload never sent is swept after a day, with its file.
CREATE INDEX attachments_unsent ON attachments(created_at) WHERE seq = 0 AND source_kind = 'upload';
