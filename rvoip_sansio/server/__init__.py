"""rvoip_sansio.server: registrar and B2BUA cores (pure state machines)."""
