"""rvoip_sansio.sim"""
