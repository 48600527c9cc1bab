/** vmmu: the package entry. The MMU library is also available alone as `vmmu/mmu`. */
export * from './mmu/index.js';
