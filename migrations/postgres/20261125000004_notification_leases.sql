-- Several server processes may deliver the outbox. A message being sent carries a lease: until it
-- expires, no other process touches it; after it (the sender died mid-send), the message is
-- marked `unknown` (it may have arrived), never re-sent automatically.
ALTER TABLE notifications ADD COLUMN claimed_until TIMESTAMPTZ;
