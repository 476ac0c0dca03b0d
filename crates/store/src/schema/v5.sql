-- tandem store, schema version 5: what a binding's discovery found (where the
-- device's services are, which media profile carries PTZ), so that every
-- process, the CLI's above all, starts from what another one found instead of
-- asking each device again (`GetServices`, `GetProfiles`).
--
-- Applied by src/schema.rs to a version-4 file, inside one transaction that
-- also sets `PRAGMA user_version = 5`; frozen once released.

-- The device's service addresses as the engine spells them (a JSON object of
-- `media`, `media2` and `ptz` URLs, each possibly null); null until found.
-- Forgotten (set back to null) when an address stops answering.
alter table binding_state add column service_addresses text;

-- The media profile token tandem uses on this binding when the configuration
-- names none: the device's first profile with PTZ. Null until found;
-- forgotten when the device says the profile is gone.
alter table binding_state add column profile_token text;
