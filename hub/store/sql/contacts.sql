-- name: get_contacts(phones)
-- What we know about each of :phones (E.164); every send reads its contact, so this is by hand (Piccolo's builder
-- cost as much as the query). One phone is a list of one.
SELECT * FROM contact WHERE phone = ANY(:phones::varchar[]);
