"""rvoip_sansio.transaction"""
