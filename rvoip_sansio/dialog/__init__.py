"""rvoip_sansio.dialog"""
