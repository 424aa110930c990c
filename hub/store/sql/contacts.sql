-- name: get_contacts(phones)
-- What we know about each of :phones (E.164) for sending; every send reads its contact, so this is by hand (Piccolo's
-- builder cost as much as the query), and without the attributes the send path does not need. One phone is a list
-- of one.
SELECT phone, opted_out_at, opt_out_source, last_inbound_at, updated_at FROM contact
WHERE phone = ANY(:phones::varchar[]);

-- name: contact_attributes(phones)
-- The attributes of those of :phones that have any: one statement per journey batch or fan-out chunk.
SELECT phone, attributes::text AS attributes FROM contact
WHERE phone = ANY(:phones::varchar[]) AND attributes <> '{}'::jsonb;

-- name: read_contacts(phones)
-- Each of :phones as the API shows a contact.
SELECT id, phone, attributes::text AS attributes, tags, opted_out_at, opt_out_source, last_inbound_at, updated_at
FROM contact WHERE phone = ANY(:phones::varchar[]);

-- name: list_contacts(tag, opted_out, after_id, limit)
-- Contacts by id after :after_id (keyset), those with :tag (null: any; the GIN index on tags), opted out or not
-- (null: both).
SELECT id, phone, attributes::text AS attributes, tags, opted_out_at, opt_out_source, last_inbound_at, updated_at
FROM contact
WHERE id > :after_id
  AND (:tag::text IS NULL OR tags @> ARRAY[:tag::text])
  AND (:opted_out::boolean IS NULL OR (opted_out_at IS NOT NULL) = :opted_out::boolean)
ORDER BY id
LIMIT :limit;

-- name: ensure_contact(phone, now)
-- The contact row of :phone, created empty when there is none (a PUT or PATCH then changes it).
INSERT INTO contact (phone, updated_at) VALUES (:phone, :now) ON CONFLICT (phone) DO NOTHING RETURNING id;

-- name: change_contact(phone, replace, attributes, drop_attributes, tags, add_tags, remove_tags, now)
-- The one rule for a contact's attributes and tags. Attributes: :attributes merged over the stored ones (over none
-- when :replace), then :drop_attributes removed. Tags: :tags (null: the stored ones) plus :add_tags less
-- :remove_tags, kept sorted and distinct (hub_tag_set). Opt-out and the 24 h window are left as they are. No row: nothing.
UPDATE contact
SET attributes = (CASE WHEN :replace::boolean THEN '{}'::jsonb ELSE attributes END || :attributes::jsonb)
                 - :drop_attributes::text[],
    tags = hub_tag_set(ARRAY(SELECT t FROM unnest(COALESCE(:tags::text[], tags) || :add_tags::text[]) AS t
                             WHERE NOT t = ANY(:remove_tags::text[]))),
    updated_at = :now
WHERE phone = :phone
RETURNING id, phone, attributes::text AS attributes, tags, opted_out_at, opt_out_source, last_inbound_at, updated_at;

-- name: import_contacts(phones, attributes, tags, now)
-- An import's batch (one row per phone): each contact created, or its attributes merged with the row's (the row's
-- win) and the row's tags added (tags: ';'-joined). Opt-out and the 24 h window are left as they are.
WITH t AS (SELECT * FROM unnest(:phones::text[], :attributes::text[], :tags::text[]) AS t(phone, attributes, tags)),
ins AS (
    INSERT INTO contact (phone, attributes, tags, updated_at)
    SELECT t.phone, t.attributes::jsonb, hub_tag_set(string_to_array(t.tags, ';')), :now FROM t
    ON CONFLICT (phone) DO UPDATE
    SET attributes = contact.attributes || EXCLUDED.attributes, tags = hub_tag_set(contact.tags || EXCLUDED.tags),
        updated_at = EXCLUDED.updated_at
    RETURNING 1
)
SELECT count(*) AS imported FROM ins;

-- name: audience_contacts(tags, attributes, after_id, limit)
-- A page of a campaign's `contacts` audience: contacts with every one of :tags and these :attributes, by id after
-- :after_id (the GIN index on tags).
SELECT id, phone FROM contact
WHERE id > :after_id AND tags @> :tags::text[] AND attributes @> :attributes::jsonb
ORDER BY id
LIMIT :limit;
