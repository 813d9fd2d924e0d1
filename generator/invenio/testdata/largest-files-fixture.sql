-- A small repository for the largest-files report. Helpers keep the rows
-- readable; every row goes through the real tables and foreign keys.
--
--   alice  "Detector run 7": v1 detector.h5 (5 GB) + readme.txt (1 kB);
--          v2 keeps detector.h5 (same stored file), drops readme.txt,
--          adds calib.h5 (3 GB). In communities physics and climate.
--   bob    "Simulation": sim.tar (8 GB), in physics.
--   carol  "Archive": huge.zip (20 GB) + small.csv (2 MB), in no community.
--   bob    "Withdrawn": gone.nc (50 GB), deleted record, in climate.
--   alice  an unpublished draft with unpublished.bin (30 GB), in no community.
--   dave   "Reanalysis": era5.nc (5 GB, same size as detector.h5, uploaded
--          later), in climate. biology has no records; retired is a deleted
--          community that still lists alice's record.
INSERT INTO files_location VALUES (now(), now(), 1, 'default-location', '/opt/invenio/var/instance/data', true);
INSERT INTO accounts_user (created, updated, id, username, email, active, version_id) VALUES
    (now(), now(), 1, 'alice', 'alice@lbl.gov', true, 1),
    (now(), now(), 2, 'bob',   'bob@lbl.gov',   true, 1),
    (now(), now(), 3, 'carol', 'carol@lbl.gov', true, 1),
    (now(), now(), 4, 'dave',  'dave@lbl.gov',  true, 1);
INSERT INTO communities_metadata VALUES
    (now(), now(), 'c0000000-0000-0000-0000-000000000001', '{"slug": "physics"}', 1, 'physics', NULL, 'P'),
    (now(), now(), 'c0000000-0000-0000-0000-000000000002', '{"slug": "climate"}', 1, 'climate', NULL, 'P'),
    (now(), now(), 'c0000000-0000-0000-0000-000000000003', '{"slug": "biology"}', 1, 'biology', NULL, 'P'),
    (now(), now(), 'c0000000-0000-0000-0000-000000000004', '{"slug": "retired"}', 1, 'retired', NULL, 'D');

CREATE FUNCTION pg_temp.bucket(n int) RETURNS uuid LANGUAGE sql AS $$
    INSERT INTO files_bucket VALUES (now(), now(), ('b0000000-0000-0000-0000-' || lpad(n::text, 12, '0'))::uuid, 1, 'S', 0, NULL, NULL, false, false)
    RETURNING id $$;
-- file: a stored file of size bytes, uploaded at ts.
CREATE FUNCTION pg_temp.file(n int, size bigint, ts timestamp) RETURNS uuid LANGUAGE sql AS $$
    INSERT INTO files_files VALUES (ts, ts, ('f0000000-0000-0000-0000-' || lpad(n::text, 12, '0'))::uuid,
        '/opt/invenio/var/instance/data/' || n, 'S', size, 'md5:0', true, false, NULL, true)
    RETURNING id $$;
-- object: the version of file f under key in bucket b.
CREATE FUNCTION pg_temp.object(b uuid, key text, f uuid) RETURNS uuid LANGUAGE sql AS $$
    INSERT INTO files_object VALUES (now(), now(), b, key, gen_random_uuid(), f, NULL, true)
    RETURNING version_id $$;
CREATE FUNCTION pg_temp.parent(n int, owner int) RETURNS uuid LANGUAGE sql AS $$
    INSERT INTO rdm_parents_metadata VALUES (now(), now(), ('a0000000-0000-0000-0000-' || lpad(n::text, 12, '0'))::uuid,
        jsonb_build_object('id', 'parent' || n, 'access', jsonb_build_object('owned_by', jsonb_build_object('user', owner::text))), 1)
    RETURNING id $$;
CREATE FUNCTION pg_temp.record(pid text, parent uuid, idx int, b uuid, status text) RETURNS uuid LANGUAGE sql AS $$
    INSERT INTO rdm_records_metadata VALUES (now(), now(), gen_random_uuid(),
        jsonb_build_object('id', pid, 'metadata', jsonb_build_object('title', pid)), 1, parent, idx, b, NULL, status)
    RETURNING id $$;
CREATE FUNCTION pg_temp.attach(rec uuid, key text, ov uuid) RETURNS void LANGUAGE sql AS $$
    INSERT INTO rdm_records_files VALUES (now(), now(), gen_random_uuid(), '{}', 1, key, rec, ov) $$;

DO $$
DECLARE
    GB constant bigint := 1000000000;
    p1 uuid; p2 uuid; p3 uuid; p4 uuid; p5 uuid; p6 uuid;
    b uuid; r uuid; d uuid;
    detector uuid; readme uuid; calib uuid;
BEGIN
    -- alice: two versions sharing detector.h5
    p1 := pg_temp.parent(1, 1);
    detector := pg_temp.file(1, 5 * GB, '2024-01-10 09:00');
    readme := pg_temp.file(2, 1000, '2024-01-10 09:05');
    b := pg_temp.bucket(1);
    r := pg_temp.record('detec-tor01', p1, 1, b, 'P');
    PERFORM pg_temp.attach(r, 'detector.h5', pg_temp.object(b, 'detector.h5', detector));
    PERFORM pg_temp.attach(r, 'readme.txt', pg_temp.object(b, 'readme.txt', readme));
    calib := pg_temp.file(3, 3 * GB, '2024-02-01 12:00');
    b := pg_temp.bucket(2);
    r := pg_temp.record('detec-tor02', p1, 2, b, 'P');
    PERFORM pg_temp.attach(r, 'detector.h5', pg_temp.object(b, 'detector.h5', detector));
    PERFORM pg_temp.attach(r, 'calib.h5', pg_temp.object(b, 'calib.h5', calib));
    INSERT INTO rdm_parents_community VALUES ('c0000000-0000-0000-0000-000000000001', p1, NULL), ('c0000000-0000-0000-0000-000000000002', p1, NULL),
        ('c0000000-0000-0000-0000-000000000004', p1, NULL);

    -- bob: one record in physics
    p2 := pg_temp.parent(2, 2);
    b := pg_temp.bucket(3);
    r := pg_temp.record('simul-ation', p2, 1, b, 'P');
    PERFORM pg_temp.attach(r, 'sim.tar', pg_temp.object(b, 'sim.tar', pg_temp.file(4, 8 * GB, '2024-03-15 08:00')));
    INSERT INTO rdm_parents_community VALUES ('c0000000-0000-0000-0000-000000000001', p2, NULL);

    -- carol: no community
    p3 := pg_temp.parent(3, 3);
    b := pg_temp.bucket(4);
    r := pg_temp.record('archi-ve001', p3, 1, b, 'P');
    PERFORM pg_temp.attach(r, 'huge.zip', pg_temp.object(b, 'huge.zip', pg_temp.file(5, 20 * GB, '2024-04-01 10:00')));
    PERFORM pg_temp.attach(r, 'small.csv', pg_temp.object(b, 'small.csv', pg_temp.file(6, 2000000, '2024-04-01 10:01')));

    -- bob: a deleted record, in climate
    p4 := pg_temp.parent(4, 2);
    b := pg_temp.bucket(5);
    r := pg_temp.record('withd-rawn1', p4, 1, b, 'D');
    PERFORM pg_temp.attach(r, 'gone.nc', pg_temp.object(b, 'gone.nc', pg_temp.file(7, 50 * GB, '2024-05-01 10:00')));
    INSERT INTO rdm_parents_community VALUES ('c0000000-0000-0000-0000-000000000002', p4, NULL);

    -- alice: an unpublished draft
    p5 := pg_temp.parent(5, 1);
    b := pg_temp.bucket(6);
    INSERT INTO rdm_drafts_metadata VALUES (now(), now(), gen_random_uuid(), '{"id": "draft-00001"}', 1, NULL, NULL, p5, 1, b, NULL) RETURNING id INTO d;
    INSERT INTO rdm_drafts_files VALUES (now(), now(), gen_random_uuid(), '{}', 1, 'unpublished.bin', d,
        pg_temp.object(b, 'unpublished.bin', pg_temp.file(8, 30 * GB, '2024-06-01 10:00')));

    -- dave: same size as detector.h5, uploaded later, in climate
    p6 := pg_temp.parent(6, 4);
    b := pg_temp.bucket(7);
    r := pg_temp.record('reana-lysis', p6, 1, b, 'P');
    PERFORM pg_temp.attach(r, 'era5.nc', pg_temp.object(b, 'era5.nc', pg_temp.file(9, 5 * GB, '2024-03-01 00:00')));
    INSERT INTO rdm_parents_community VALUES ('c0000000-0000-0000-0000-000000000002', p6, NULL);
END $$;
