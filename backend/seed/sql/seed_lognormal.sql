-- Log-normal draws with the given median (Box-Muller from two seeded uniforms).
create or replace function pg_temp.seed_lognormal(k bigint, salt integer, median double precision,
                                                              sigma double precision) returns double precision
           language sql immutable parallel safe as $$
               select median * exp(sigma * sqrt(-2 * ln(greatest(pg_temp.seed_u(k, salt), 1e-12)))
                                   * cos(2 * pi() * pg_temp.seed_u(k, salt + 1)))
           $$
