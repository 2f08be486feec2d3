"""How images and members look on the wire (Glance's JSON)."""
from __future__ import annotations

from glint.domain.model import Image, Member, isotime

# Internal bookkeeping properties Glance never shows.
HIDDEN_PROPERTIES = frozenset({'os_glance_stage_host', 'os_glance_hash_op_host'})


def image_view(image: Image, show_locations: bool, show_direct_url: bool,
               multi_store: bool = False) -> dict:
    view = {k: ('' if v is None else v) for k, v in image.properties.items()
            if k not in HIDDEN_PROPERTIES}
    href = '/v2/images/' + image.id
    view.update(
        name=image.name, disk_format=image.disk_format,
        container_format=image.container_format, visibility=image.visibility,
        size=image.size, virtual_size=image.virtual_size, status=image.status,
        checksum=image.checksum, protected=image.protected, min_ram=image.min_ram,
        min_disk=image.min_disk, owner=image.owner, os_hidden=image.os_hidden,
        os_hash_algo=image.os_hash_algo, os_hash_value=image.os_hash_value,
        id=image.id, created_at=isotime(image.created_at),
        updated_at=isotime(image.updated_at), tags=list(image.tags),
        self=href, file=href + '/file', schema='/v2/schemas/image')
    if show_locations:
        view['locations'] = [{'url': loc['url'], 'metadata': loc['metadata']}
                             for loc in image.locations]
    if show_direct_url and image.locations:
        view['direct_url'] = image.locations[0]['url']
    stores = [loc['metadata'].get('store') for loc in image.locations]
    if multi_store and any(stores):      # Glance: the backends holding the data
        view['stores'] = ','.join(s for s in stores if s)
    return view


def member_view(member: Member) -> dict:
    return {'created_at': isotime(member.created_at), 'image_id': member.image_id,
            'member_id': member.member, 'schema': '/v2/schemas/member',
            'status': member.status, 'updated_at': isotime(member.updated_at)}
