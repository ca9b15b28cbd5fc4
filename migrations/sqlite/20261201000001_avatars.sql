-- Avatars uploaded from the mini program, re-encoded (JPEG, at most 256x256) and served
-- by us at /avatars/<id>; the id is the SHA-256 of the image, so an image is stored once.
CREATE TABLE avatars (
    id          TEXT    PRIMARY KEY,
    jpeg        BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);
