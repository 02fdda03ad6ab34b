from django.db import migrations

# Records are kept for good (000 Art.15: 志愿服务记录应当长期妥善保存; 000 Art.23
# forbids falsifying them), so in the database itself:
# 1. no training, award or complaint row is ever deleted;
# 2. a training or award is never changed;
# 3. a complaint changes only along open → investigating → upheld | dismissed
#    (000 Art.13 核查处理; 003 Art.22 ¶3 an upheld one is kept on file), its facts
#    (who, whom, what, when received, who filed it) never change, and once
#    decided nothing about it changes again.
SQL = [
    """
CREATE OR REPLACE FUNCTION recognition_forbid_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER training_append_only BEFORE UPDATE OR DELETE ON recognition_training
    FOR EACH ROW EXECUTE FUNCTION recognition_forbid_change()
""",
    """
CREATE TRIGGER award_append_only BEFORE UPDATE OR DELETE ON recognition_award
    FOR EACH ROW EXECUTE FUNCTION recognition_forbid_change()
""",
    """
CREATE OR REPLACE FUNCTION recognition_protect_complaint() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'complaints are never deleted (complaint %)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.status IN ('upheld', 'dismissed') THEN
        RAISE EXCEPTION 'complaint % was decided (%): it is kept as it is', OLD.id, OLD.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (NEW.id, NEW.volunteer_id, NEW.group_id, NEW.complainant, NEW.content,
        NEW.received_on, NEW.filed_by, NEW.filed_at)
       IS DISTINCT FROM
       (OLD.id, OLD.volunteer_id, OLD.group_id, OLD.complainant, OLD.content,
        OLD.received_on, OLD.filed_by, OLD.filed_at) THEN
        RAISE EXCEPTION 'the facts of complaint % are never changed', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NOT ((OLD.status = 'open' AND NEW.status = 'investigating')
            OR (OLD.status = 'investigating' AND NEW.status IN ('upheld', 'dismissed'))) THEN
        RAISE EXCEPTION 'complaint % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER complaint_protect BEFORE UPDATE OR DELETE ON recognition_complaint
    FOR EACH ROW EXECUTE FUNCTION recognition_protect_complaint()
""",
]
UNDO = [
    'DROP TRIGGER IF EXISTS complaint_protect ON recognition_complaint',
    'DROP TRIGGER IF EXISTS award_append_only ON recognition_award',
    'DROP TRIGGER IF EXISTS training_append_only ON recognition_training',
    'DROP FUNCTION IF EXISTS recognition_protect_complaint()',
    'DROP FUNCTION IF EXISTS recognition_forbid_change()',
]


class Migration(migrations.Migration):
    dependencies = [("recognition", "0001_initial")]
    operations = [migrations.RunSQL(SQL, UNDO)]
