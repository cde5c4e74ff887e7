-- Records a person put back after a destination set them aside (hall-admin requeue): each
-- is sent to that destination again, before the records after its mark, in the outbox's
-- order, and leaves this table when the destination has answered for it.
CREATE TABLE requeue (
	dest TEXT NOT NULL,
	seq  INTEGER NOT NULL,
	PRIMARY KEY (dest, seq)
) WITHOUT ROWID;
