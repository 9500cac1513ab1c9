"""rvoip_sansio.phone: a whole softphone / trunk endpoint as one pure state machine (in progress)."""
