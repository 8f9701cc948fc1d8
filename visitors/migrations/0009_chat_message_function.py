"""`visitors_chat_message`: a known visitor's chat message as one function call
(PostgreSQL only; `visitors.gate_store.message_store` calls it).

The same writes as the one statement it replaces (the visitor touched, the
conversation moved on or started, the message stored, the ids returned; nothing
written and a row of NULLs when the visitor is not known or the message brings
something new about them), in one round trip, but PL/pgSQL keeps each of its
statements' plans for the session: the statement is no longer parsed and
planned for every message. Every value stored is passed in by the caller
(`gate_store`), defaults included; the function names the columns only.

Other databases keep the ORM path: nothing is created there.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION visitors_chat_message(
    p_organisation bigint,
    p_widget bigint,
    p_widget_value text,
    p_kinds text[],
    p_values text[],
    p_name text,
    p_seen timestamptz,
    p_conversation uuid,
    p_since timestamptz,
    p_status text,
    p_new_conversation uuid,
    p_message uuid,
    p_sender text,
    p_body text,
    p_ip inet,
    OUT visitor_id bigint,
    OUT author text,
    OUT conversation_id uuid,
    OUT message_id uuid
)
LANGUAGE plpgsql AS $$
DECLARE
    v_conversation bigint;
BEGIN
    -- The visitor owning the widget id, touched, unless an identifier it
    -- carries is not owned yet or it gives a name: the gate's full path then.
    UPDATE visitors_visitor AS v SET last_seen_at = GREATEST(v.last_seen_at, p_seen)
    WHERE v.id = (
        SELECT i.visitor_id FROM visitors_visitoridentifier AS i
        WHERE i.organisation_id = p_organisation AND i.kind = 'widget'
        AND i.value = p_widget_value
    )
    AND (v.name <> '' OR p_name = '')
    AND (
        SELECT COUNT(*) FROM visitors_visitoridentifier AS i,
        unnest(p_kinds, p_values) AS p(kind, value)
        WHERE i.organisation_id = p_organisation AND i.kind = p.kind
        AND i.value = p.value
    ) = cardinality(p_kinds)
    RETURNING v.id, LEFT(COALESCE(
        NULLIF(v.name, ''), 'Visitor ' || LEFT(v.public_id::text, 8)
    ), 200)
    INTO visitor_id, author;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- The conversation the widget names (theirs), or without one the one
    -- this widget started for them since p_since; else a new one.
    IF p_conversation IS NULL THEN
        UPDATE visitors_conversation AS c
        SET last_message_at = p_seen, message_count = c.message_count + 1,
            status = p_status
        WHERE c.id = (
            SELECT o.id FROM visitors_conversation AS o
            WHERE o.organisation_id = p_organisation
            AND o.visitor_id = visitors_chat_message.visitor_id
            AND o.widget_id = p_widget AND o.created_at >= p_since
            ORDER BY o.created_at DESC, o.id DESC LIMIT 1
        )
        RETURNING c.id, c.public_id INTO v_conversation, conversation_id;
    ELSE
        UPDATE visitors_conversation AS c
        SET last_message_at = p_seen, message_count = c.message_count + 1,
            status = p_status
        WHERE c.organisation_id = p_organisation AND c.public_id = p_conversation
        AND c.visitor_id = visitors_chat_message.visitor_id
        RETURNING c.id, c.public_id INTO v_conversation, conversation_id;
    END IF;
    IF NOT FOUND THEN
        INSERT INTO visitors_conversation (
            public_id, organisation_id, visitor_id, widget_id, status,
            created_at, last_message_at, message_count
        ) VALUES (
            p_new_conversation, p_organisation, visitors_chat_message.visitor_id,
            p_widget, p_status, p_seen, p_seen, 1
        )
        RETURNING id, public_id INTO v_conversation, conversation_id;
    END IF;
    INSERT INTO visitors_message (
        public_id, organisation_id, conversation_id, sender, author, body, ip,
        created_at
    ) VALUES (
        p_message, p_organisation, v_conversation, p_sender, author, p_body, p_ip,
        p_seen
    )
    RETURNING public_id INTO message_id;
END
$$;
"""

DROP = (
    "DROP FUNCTION IF EXISTS visitors_chat_message(bigint, bigint, text, text[], "
    "text[], text, timestamptz, uuid, timestamptz, text, uuid, uuid, text, text, inet)"
)


def _on_postgresql(sql: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("visitors", "0008_covered_foreign_key_indexes"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(FUNCTION), _on_postgresql(DROP)),
    ]
