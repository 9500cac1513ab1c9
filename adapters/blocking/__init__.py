"""rvoip_sansio.adapters.blocking"""
