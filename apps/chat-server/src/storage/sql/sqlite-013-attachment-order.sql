-- Migration 13 of the SQLite storage: a message's files keep the order its sender gave them (the
-- order of `attachmentIds`, which is the order they were picked in). Until now they were listed by
-- upload time, so two files uploaded side by side could swap places. Files attached before this
-- migration keep position 0 and their upload order.
ALTER TABLE attachments ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
