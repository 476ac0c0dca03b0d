-- Version 7: the leader lease. Several `tandem serve` instances on one store
-- elect one of them to run the background duties (retries, scheduled scans,
-- health watching); on SQLite they share one machine and its clock.

create table leader (
  -- Always 1: there is one leader row.
  id integer primary key check (id = 1),
  -- The instance that leads, or '' when none ever did.
  holder text not null,
  -- Raised each time another instance takes the lead; fences the old one.
  epoch integer not null check (epoch >= 0),
  -- When the lead ends unless renewed (fixed-width RFC 3339).
  expires_utc text not null
) strict;
insert into leader (id, holder, epoch, expires_utc) values (1, '', 0, '1970-01-01T00:00:00.000000Z');
