"""rvoip_sansio.sip"""
