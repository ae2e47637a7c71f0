-- Delivery receipts both ways, and the site's usual reply time.

-- The visitor's device has received messages up to this seq.
ALTER TABLE conversations ADD COLUMN visitor_delivered_seq INTEGER NOT NULL DEFAULT 0;
-- An advisor's dashboard has received the visitor's messages up to this seq.
ALTER TABLE conversations ADD COLUMN advisor_delivered_seq INTEGER NOT NULL DEFAULT 0;

ALTER TABLE sites ADD COLUMN reply_time TEXT NOT NULL DEFAULT '';
