import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { RETENTION_KINDS, RetentionKind } from '../config/configuration.js';
import { HoldsPersonalData, PersonalDataDeclaration, PersonalDataHolder } from '../events/personal-data.js';

export interface RegisteredHolder {
  declaration: PersonalDataDeclaration;
  holder: PersonalDataHolder;
}

/**
 * Every provider marked @HoldsPersonalData in the modules loaded, found at boot (the privacy module
 * never imports them). Boot stops when a kind of data with a retention setting has no holder, or two.
 */
@Injectable()
export class PersonalDataRegistry implements OnModuleInit {
  private holders: RegisteredHolder[] = [];

  constructor(private readonly discovery: DiscoveryService) {}

  onModuleInit(): void {
    this.holders = this.discovery.getProviders({ metadataKey: HoldsPersonalData.KEY }).map((wrapper) => ({
      declaration: this.discovery.getMetadataByDecorator(HoldsPersonalData, wrapper)!,
      holder: wrapper.instance as PersonalDataHolder,
    }));
    for (const kind of RETENTION_KINDS) {
      const count = this.holders.filter((h) => h.declaration.retention.includes(kind)).length;
      if (count !== 1) throw new Error(`${count === 0 ? 'No' : 'More than one'} holder of personal data expires ${kind}`);
    }
  }

  /** Every holder, those to erase first (the inbox) first. */
  all(): RegisteredHolder[] {
    return [...this.holders].sort((a, b) => Number(b.declaration.eraseFirst ?? false) - Number(a.declaration.eraseFirst ?? false));
  }

  /** The holder that expires `kind`. */
  forKind(kind: RetentionKind): PersonalDataHolder {
    return this.holders.find((h) => h.declaration.retention.includes(kind))!.holder;
  }
}
